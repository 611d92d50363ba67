"""The enterprise admin's dashboard: the figures of the console's first page."""
