"""Kept for operators' manifests that name ``saylau.web_transport:OneWritePerResponse``
(uvicorn ``--http``): the transport now lives in ``saylau.web.transport``."""
from saylau.web.transport import OneWritePerResponse

__all__ = ["OneWritePerResponse"]
