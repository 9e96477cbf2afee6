"""The console's pages under `/console`, a module per page group.

Each module holds a module-level `APIRouter`; the app includes every one of `ROUTERS`.
The dependencies the pages take (`Agent`, `SessionFactory`, `Render`, …) are declared
once in `console.deps` and `console.pages`, and provided by the app the console runs
in (`console.deps.wire`).
"""

from __future__ import annotations

from fastapi import APIRouter

from console.routes import (
    admin,
    campaigns,
    conversation,
    customers,
    dashboard,
    inbox,
    requests,
    sign_in,
)

# In the order their routes are matched.
ROUTERS: tuple[APIRouter, ...] = (
    sign_in.router,
    inbox.router,
    conversation.router,
    requests.router,
    customers.router,
    dashboard.router,
    campaigns.router,
    admin.router,
)

__all__ = ["ROUTERS"]
