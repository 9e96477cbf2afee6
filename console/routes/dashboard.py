"""The dashboard (step 8 of the complaint script: which causes recur), and its figures
as CSV files."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from console import charts
from console.deps import Clock, CurrentStaff, SessionFactory, SettingsDep
from console.pages import Render
from crm_store import reports

router = APIRouter(prefix="/console", include_in_schema=False)


def report_window(weeks: int, now: datetime) -> tuple[datetime, datetime]:
    """The `weeks` (1 to 104) up to `now`."""
    return now - timedelta(weeks=max(1, min(weeks, 104))), now


def dashboard_context(
    factory: sessionmaker[Session],
    *,
    weeks: int,
    since: datetime,
    until: datetime,
    tz: str,
    t: Callable[..., str],
) -> dict[str, Any]:
    with factory() as session:
        complaints = reports.complaints_by_week(session, since=since, until=until, tz=tz)
        repeats = reports.repeat_complaints(session, since=since, until=until)
        csat = reports.csat_by_week(session, since=since, until=until, tz=tz)
        times = reports.handoff_times(session, since=since, until=until)
    labels = reports.week_labels(since=since, until=until, tz=tz)
    by_cause: dict[str, dict[str, float]] = {week: {} for week in labels}
    by_category: dict[str, dict[str, float]] = {week: {} for week in labels}
    for row in complaints:
        causes = by_cause.setdefault(row.week, {})
        causes[row.root_cause] = causes.get(row.root_cause, 0) + row.count
        categories = by_category.setdefault(row.week, {})
        categories[row.category.value] = categories.get(row.category.value, 0) + row.count
    return {
        "weeks": weeks,
        "cause_chart": charts.bar_chart(by_cause, title=t("chart_causes"), no_data=t("no_data")),
        "category_chart": charts.bar_chart(
            by_category, title=t("chart_categories"), no_data=t("no_data")
        ),
        "csat_chart": charts.line_chart(
            [(row.week, row.average_score) for row in csat],
            title=t("chart_csat"),
            y_min=1,
            y_max=5,
            no_data=t("no_data"),
        ),
        "repeats": repeats,
        "times": times,
        "csat": csat,
    }


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(
    user: CurrentStaff,
    factory: SessionFactory,
    settings: SettingsDep,
    clock: Clock,
    render: Render,
    weeks: int = 12,
) -> HTMLResponse:
    since, until = report_window(weeks, clock())
    context = await asyncio.to_thread(
        dashboard_context,
        factory,
        weeks=weeks,
        since=since,
        until=until,
        tz=settings.default_timezone,
        t=render.translator(user),
    )
    return render("dashboard.html", user, **context)


def report_csv(session: Session, report: str, *, since: datetime, until: datetime, tz: str) -> str:
    """One of the dashboard's reports as CSV (404 for a report there is not)."""
    if report == "complaints":
        return reports.to_csv(reports.complaints_by_week(session, since=since, until=until, tz=tz))
    if report == "repeats":
        return reports.to_csv(reports.repeat_complaints(session, since=since, until=until))
    if report == "csat":
        return reports.to_csv(reports.csat_by_week(session, since=since, until=until, tz=tz))
    if report == "handoffs":
        return reports.to_csv([reports.handoff_times(session, since=since, until=until)])
    raise HTTPException(status_code=404, detail=f"no report {report!r}")


@router.get("/dashboard/{report}.csv")
async def dashboard_csv(
    report: str,
    user: CurrentStaff,
    factory: SessionFactory,
    settings: SettingsDep,
    clock: Clock,
    weeks: int = 12,
) -> Response:
    since, until = report_window(weeks, clock())

    def load() -> str:
        with factory() as session:
            return report_csv(
                session, report, since=since, until=until, tz=settings.default_timezone
            )

    text = await asyncio.to_thread(load)
    # The byte-order mark makes spreadsheet programs read the Chinese as UTF-8.
    return Response(
        "\ufeff" + text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{report}.csv"'},
    )
