"""Personal data: encrypted at ingest with a key per value, erased by destroying keys.

``fields`` (where names sit, from ``x-personal`` in the schemas; no crypto), ``sealing``
(pure encrypt / decrypt / redact / blind index), ``records`` (the same for whole records,
one key fetch per answer), ``keys`` (master key, ``KeyWrapper``), ``store`` (data keys in
PostgreSQL), ``memory`` (its in-memory fake), ``erasure`` (erase + the event payload).
Nothing is imported here, so the catalogue can use ``fields`` without loading crypto.
"""
