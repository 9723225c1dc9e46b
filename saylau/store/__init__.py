"""The PostgreSQL store: connection pools, the one SQLAlchemy ``MetaData`` and its DDL,
read-model sets (which schema serves), keyset paging, and the versioned migrations of what
is not rebuilt."""
