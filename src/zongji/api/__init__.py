"""HTTP composition: the FastAPI app, error rendering, authentication, and each context's routes."""
