"""The HTTP edge shared by ingest and the api: keys and sessions, errors as problem details,
input limits, security headers, the one-write transport and JSON answers."""
