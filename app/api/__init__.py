"""HTTP edge: FastAPI app, routes and the mapping of errors to status codes."""
