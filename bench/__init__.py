"""The pipeline benchmark (``make bench``); not part of the test suite."""
