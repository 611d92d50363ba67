"""The enterprise directory: enterprises (tenants), departments, users, extensions, numbers."""
