"""The Alembic environment and revisions of the metastore schema, shipped in the package."""
