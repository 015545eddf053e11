"""The REST API under /v1: routers, schemas, auth and the one place errors become HTTP."""
