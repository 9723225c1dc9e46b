"""Dependencies shared by the api's routers: the read-model pool and the keys' scopes."""
from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from saylau.auth import Principal
from saylau.web import require

ReadKey = Annotated[Principal, Depends(require("read", allow_public=True))]
AdminKey = Annotated[Principal, Depends(require("admin"))]


def pool(request: Request) -> asyncpg.Pool:
    """The pool whose connections see the read-model schema first."""
    return request.app.state.pool  # type: ignore[no-any-return]


Pool = Annotated[asyncpg.Pool, Depends(pool)]


def may_see_names(principal: Principal) -> bool:
    """Names of detained people and observers: only for auditors and admins."""
    return bool({"audit", "admin"} & principal.scopes)
