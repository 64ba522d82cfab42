"""What the CLI, the REST API and the UI all call: one place per operation.

Each function takes the Metastore (and the settings or a DagVersions cache
where it needs them) and returns frozen records; none of them prints, parses
command-line text or knows about HTTP.
"""
