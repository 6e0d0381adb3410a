"""HTTP routes, one module per concern, all under `/api/v1/auth/`."""
