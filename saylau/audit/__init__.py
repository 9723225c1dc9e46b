"""Audit tools: replay the log into a fresh schema, compare, verify the hash chains, export.

Everything here reads the log as it was appended (Kafka from offset 0, or an NDJSON export)
and writes only to schemas it creates; the projection itself is ``saylau.readmodels.transaction.Projection``,
the object the live projector runs.
"""
