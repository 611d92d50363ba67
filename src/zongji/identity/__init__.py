"""Logins (password, SMS and voice codes), tokens, devices, roles."""
