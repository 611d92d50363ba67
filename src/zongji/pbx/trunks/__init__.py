"""SIP trunks to the carrier: configuration, registration, OPTIONS keep-alive, failover."""
