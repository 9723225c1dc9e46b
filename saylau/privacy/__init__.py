"""Personal data: encrypted at ingest with a key per value, erased by destroying keys.

Names (``x-personal``) and free text (``x-free-text``) are sealed alike; names also get a
blind index. ``sealing`` (pure encrypt / decrypt / redact / blind index), ``records`` (the
same for whole records, one key fetch per answer), ``search`` (a name inside free text),
``keys`` (master key, ``KeyWrapper``), ``store`` (data keys in PostgreSQL), ``memory`` (its
in-memory fake), ``erasure`` (destroy, purge, record). Where names and free text sit in a
payload is pure schema knowledge: ``saylau.domain.fields``, which the catalogue reads without
loading any crypto.
"""
