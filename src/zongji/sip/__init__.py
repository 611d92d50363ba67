"""SIP protocol library (RFC 3261 and friends).

Knows nothing of tenants, users or storage: the PBX builds on it, tests drive it directly.
"""
