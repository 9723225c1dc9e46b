"""Personal data: encrypted at ingest with a key per value, erased by destroying keys.

``sealing`` (pure encrypt / decrypt / redact / blind index), ``records`` (the same for whole
records, one key fetch per answer), ``keys`` (master key, ``KeyWrapper``), ``store`` (data
keys in PostgreSQL), ``memory`` (its in-memory fake), ``erasure`` (erase + the event payload).
Where names sit in a payload (``x-personal`` in the schemas) is pure schema knowledge:
``saylau.domain.fields``, which the catalogue reads without loading any crypto.
"""
