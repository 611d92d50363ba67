"""Call records (CDR): one per call, a durable journal of live calls, search and export."""
