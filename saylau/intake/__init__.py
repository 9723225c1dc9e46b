"""Intake: every report, whatever channel brought it, is validated, deduplicated by its
event id and appended to the hash-chained log here, once (``Intake.submit``)."""
