"""Who may open what in the staff console: sessions, roles, CSRF and sign-in limits.

The console runs in the real gateway app (uvicorn on loopback); Rasa is down here.
"""

from __future__ import annotations

from fastapi.routing import APIRoute
from sqlalchemy import select

from crm_store.models import (
    AuditLog,
    Handoff,
    HandoffStatus,
)
from tests.console.conftest import PASSWORD, Console, csrf_of, customer_waiting


def console_routes(console: Console) -> list[APIRoute]:
    """Every route of the console's router, as mounted in the app."""
    found: list[APIRoute] = []
    for route in console.running.app.routes:
        router = getattr(route, "original_router", None)
        for inner in getattr(router, "routes", []):
            if isinstance(inner, APIRoute) and inner.path.startswith("/console"):
                found.append(inner)
    return [route for route in found if route.path != "/console/login"]


def concrete(path: str) -> str:
    return path.replace("{conversation_id}", "1").replace("{handoff_id}", "1")


def test_no_page_or_api_of_the_console_answers_without_a_session(console: Console) -> None:
    routes = console_routes(console)
    assert len(routes) >= 12
    with console.browser() as browser:
        for route in routes:
            for method in route.methods:
                response = browser.request(method, concrete(route.path))
                if method == "GET":
                    assert response.status_code == 303, route.path
                    assert response.headers["location"] == "/console/login"
                else:
                    assert response.status_code in (401, 403), (method, route.path)
        api = browser.get("/console/events", headers={"Accept": "text/event-stream"})
        assert api.status_code == 401


def test_an_agent_gets_403_on_marketer_and_admin_pages(console: Console) -> None:
    with console.signed_in("agent@shop.test") as agent:
        assert agent.get("/console").status_code == 200
        assert agent.get("/console/campaigns").status_code == 403
        assert agent.get("/console/admin/staff").status_code == 403
    with console.signed_in("marketer@shop.test") as marketer:
        assert marketer.get("/console/campaigns").status_code == 200
        assert marketer.get("/console").status_code == 403
        assert marketer.get("/console/admin/staff").status_code == 403
    with console.signed_in("admin@shop.test") as admin:
        for path in ("/console", "/console/campaigns", "/console/admin/staff"):
            assert admin.get(path).status_code == 200, path


def test_each_role_lands_on_a_page_it_may_open(console: Console) -> None:
    for email, home in (
        ("agent@shop.test", "/console"),
        ("marketer@shop.test", "/console/campaigns"),
        ("admin@shop.test", "/console"),
    ):
        with console.browser() as browser:
            token = csrf_of(browser.get("/console/login").text)
            signed_in = browser.post(
                "/console/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
            )
            assert signed_in.headers["location"] == home, email
            assert browser.get(home).status_code == 200, email


def test_a_form_without_the_csrf_token_is_refused(console: Console) -> None:
    handoff_id = customer_waiting(console)
    with console.signed_in("agent@shop.test") as agent:
        refused = agent.post(f"/console/handoffs/{handoff_id}/claim", data={})
        assert refused.status_code == 403
        forged = agent.post(f"/console/handoffs/{handoff_id}/claim", data={"csrf_token": "x" * 43})
        assert forged.status_code == 403
    with console.running.store() as session:
        assert session.get_one(Handoff, handoff_id).status is HandoffStatus.WAITING
    with console.browser() as stranger:
        stranger.get("/console/login")
        no_token = stranger.post(
            "/console/login", data={"email": "agent@shop.test", "password": PASSWORD}
        )
        assert no_token.status_code == 403


def test_sign_in_attempts_are_limited(console: Console) -> None:
    with console.browser() as guesser:
        token = csrf_of(guesser.get("/console/login").text)
        for attempt in range(5):
            wrong = guesser.post(
                "/console/login",
                data={
                    "email": "agent@shop.test",
                    "password": f"guess {attempt}",
                    "csrf_token": token,
                },
            )
            assert wrong.status_code == 401
        blocked = guesser.post(
            "/console/login",
            data={"email": "agent@shop.test", "password": PASSWORD, "csrf_token": token},
        )
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    actions = console.running.query(lambda s: list(s.scalars(select(AuditLog.action))))
    assert actions.count("staff.sign_in_failed") == 5
