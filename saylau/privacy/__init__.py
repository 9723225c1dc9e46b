"""Personal data: encrypted at ingest with a key per value, erased by destroying keys.

``fields`` (where names sit; no crypto), ``sealing`` (pure encrypt / decrypt / redact),
``keys`` (master key and wrapping), ``store`` (data keys in PostgreSQL), ``erasure``.
"""
