"""schemathesis hooks for ``tests/e2e/test_schemathesis.py`` (``SCHEMATHESIS_HOOKS``).

A batch answers each item on its own: an invalid item inside a valid array is a 200 whose
``results`` hold that item's 4xx (the issue's one exception to "invalid data is refused").
``schemathesis.toml`` lets the batch answer 200 to invalid data; this check makes sure such a
200 did refuse an item, so an invalid batch whose items were all accepted still fails.
"""
from __future__ import annotations

from typing import Any

import schemathesis

BATCH = "/v1/events:batch"


@schemathesis.check
def batch_refuses_invalid_items(ctx: Any, response: Any, case: Any) -> None:
    meta = case.meta
    if (case.operation.path != BATCH or response.status_code != 200 or meta is None
            or not meta.generation.mode.is_negative):
        return
    codes = [item["code"] for item in response.json()["results"]]
    if not any(400 <= code < 500 for code in codes):
        raise AssertionError(f"an invalid batch was answered 200 with every item accepted: "
                             f"{codes}")
