"""The dashboard page and its static files."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

STATIC = Path(__file__).resolve().parents[1] / "static"
router = APIRouter()


@router.get("/", include_in_schema=False)
async def dashboard() -> Response:
    index = STATIC / "index.html"
    if not index.exists():
        return Response("dashboard not built", status_code=404)
    return Response(index.read_bytes(), media_type="text/html")
