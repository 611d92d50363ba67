"""Device credentials, the registrar and location service, and the authentication guard."""
