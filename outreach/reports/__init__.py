"""Reports and task-force cases: evidence uploads, upload links, statements, rescue-request bundles."""
