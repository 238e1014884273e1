"""JSON schema files, one per stream (loaded with ``SchemaDirectory``)."""
