"""The administrator's page: the staff and the latest entries of the audit log."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from console.deps import Admin, SessionFactory
from console.pages import Render
from crm_store import listings
from crm_store.models import AuditLog, StaffUser

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/admin/staff", response_class=HTMLResponse)
async def staff_page(user: Admin, factory: SessionFactory, render: Render) -> HTMLResponse:
    def load() -> tuple[list[StaffUser], list[AuditLog]]:
        with factory() as session:
            return listings.staff_by_email(session), listings.latest_audit(session)

    staff, audit = await asyncio.to_thread(load)
    return render("staff.html", user, staff=staff, audit=audit)
