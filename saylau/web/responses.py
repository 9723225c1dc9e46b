"""The JSON answer every route and error handler sends, serialised by orjson.

FastAPI deprecated its own ``ORJSONResponse``; this is the same thing in a few lines, so the
services keep orjson's speed (and its handling of datetimes and non-string keys) without
depending on a class upstream is removing.
"""
from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class JSONAnswer(JSONResponse):
    """A ``JSONResponse`` (so FastAPI documents the route's return type) rendered by orjson."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
