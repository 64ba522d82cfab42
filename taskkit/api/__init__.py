"""The REST API under /api/v2 and the web UI at /, over taskkit.services."""
