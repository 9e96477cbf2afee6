"""Who is signed in to the console, what their role lets them reach, and CSRF.

The session is Starlette's signed cookie (HttpOnly, SameSite=Lax, Secure behind https)
holding the staff user's id and a CSRF token. Every form carries the token and every
script request sends it in `X-CSRF-Token`; a POST without it is refused. Sign-in
attempts are limited per address and per e-mail, so passwords cannot be guessed fast.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import defaultdict, deque

from fastapi import HTTPException, Request
from sqlalchemy.orm import Session, sessionmaker

from crm_store.models import StaffRole, StaffUser

SESSION_USER = "staff_id"
SESSION_CSRF = "csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

# Which roles reach which part of the console.
AGENT_PAGES = frozenset({StaffRole.AGENT, StaffRole.ADMIN})
MARKETER_PAGES = frozenset({StaffRole.MARKETER, StaffRole.ADMIN})
ADMIN_PAGES = frozenset({StaffRole.ADMIN})
ANY_STAFF = frozenset(StaffRole)


class SignInRequired(Exception):
    """No valid session: pages redirect to the sign-in form, the API answers 401."""


def csrf_token(request: Request) -> str:
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return token


async def check_csrf(request: Request) -> None:
    """Refuse (403) a state-changing request without this session's CSRF token."""
    expected = request.session.get(SESSION_CSRF)
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not expected or not given or not hmac.compare_digest(str(expected), given):
        raise HTTPException(status_code=403, detail="missing or wrong CSRF token; reload the page")


def current_staff(request: Request, factory: sessionmaker[Session]) -> StaffUser:
    staff_id = request.session.get(SESSION_USER)
    if not isinstance(staff_id, int):
        raise SignInRequired
    with factory() as session:
        user = session.get(StaffUser, staff_id)
    if user is None or not user.active:
        request.session.clear()
        raise SignInRequired
    return user


def home_page(user: StaffUser) -> str:
    """Where `user` lands after signing in: the first page their role may open."""
    return "/console" if user.role in AGENT_PAGES else "/console/campaigns"


def sign_in(request: Request, user: StaffUser) -> None:
    request.session.clear()  # a fresh session: no fixation of an earlier one
    request.session[SESSION_USER] = user.id
    csrf_token(request)


def sign_out(request: Request) -> None:
    request.session.clear()


class SignInThrottle:
    """At most `attempts` failed sign-ins per key in `window` seconds (per process)."""

    def __init__(self, *, attempts: int = 5, window: float = 900.0) -> None:
        self._attempts, self._window = attempts, window
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)

    def retry_after(self, *keys: str) -> float:
        """Seconds until these keys may try again; 0 when they may now."""
        now = time.monotonic()
        wait = 0.0
        for key in keys:
            failures = self._failures[key]
            while failures and failures[0] <= now - self._window:
                failures.popleft()
            if len(failures) >= self._attempts:
                wait = max(wait, failures[0] + self._window - now)
        return wait

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._failures[key].append(now)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)
