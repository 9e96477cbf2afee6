"""What the console's pages are handed: named dependencies, declared once.

The console does not build the store, the Rasa client or the sender: the app it runs
in does (`crmbot.web`), and provides them by overriding the provider functions below
(`wire`). A page declares what it needs by type:

    async def queue_page(user: Agent, factory: SessionFactory, render: Render) -> ...

Store work runs in worker threads, each piece in a session of its own
(`factory()` to read, `session_scope(factory)` to write), so a page is handed the
session factory rather than one session: a live page's event stream, open for a
minute, holds no connection between its polls.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from sqlalchemy.orm import Session, sessionmaker

from channels.rasa_client import RasaClient
from console import auth
from crm_store.models import StaffRole, StaffUser
from crm_store.policy import Policy, load_policy
from crm_store.settings import Settings


class NotWired(RuntimeError):
    """The app did not provide what a console page needs (see `wire`)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"the console's {name!r} is not wired: call console.deps.wire(app, ...)")
        self.name = name


# --- providers: the app overrides these ---------------------------------------------


def settings() -> Settings:
    raise NotWired("settings")


def session_factory() -> sessionmaker[Session]:
    raise NotWired("session_factory")


def rasa_client() -> RasaClient:
    raise NotWired("rasa_client")


def wake_sender() -> Callable[[], None]:
    """What tells the outbox dispatcher that a message is waiting to go out."""
    raise NotWired("wake_sender")


def clock() -> Callable[[], datetime]:
    raise NotWired("clock")


def policy() -> Policy:
    """The service-recovery policy (root causes, when the survey goes out)."""
    return load_policy()


def wire(
    app: FastAPI,
    *,
    settings_of: Callable[[Request], Settings],
    factory_of: Callable[[Request], sessionmaker[Session]],
    rasa_of: Callable[[Request], RasaClient],
    wake_sender_of: Callable[[Request], Callable[[], None]],
    clock_of: Callable[[Request], Callable[[], datetime]],
) -> None:
    """Provide the console's dependencies in `app`, each read from the request (and so
    from the app's state, which may be set only once the app has started)."""

    def provide(of: Callable[[Request], Any]) -> Callable[[Request], Any]:
        def provider(request: Request) -> Any:
            return of(request)

        return provider

    app.dependency_overrides.update(
        {
            settings: provide(settings_of),
            session_factory: provide(factory_of),
            rasa_client: provide(rasa_of),
            wake_sender: provide(wake_sender_of),
            clock: provide(clock_of),
        }
    )


SettingsDep = Annotated[Settings, Depends(settings)]
SessionFactory = Annotated[sessionmaker[Session], Depends(session_factory)]
RasaDep = Annotated[RasaClient, Depends(rasa_client)]
WakeSender = Annotated[Callable[[], None], Depends(wake_sender)]
Clock = Annotated[Callable[[], datetime], Depends(clock)]
PolicyDep = Annotated[Policy, Depends(policy)]


async def sign_in_throttle(request: Request) -> auth.SignInThrottle:
    """The app's limit on failed sign-ins (one per app, made at its first sign-in)."""
    state = request.app.state
    if not hasattr(state, "console_sign_in_throttle"):
        state.console_sign_in_throttle = auth.SignInThrottle()
    throttle: auth.SignInThrottle = state.console_sign_in_throttle
    return throttle


Throttle = Annotated[auth.SignInThrottle, Depends(sign_in_throttle)]


# --- who is signed in, and what their role lets them open ------------------------------


def requires(
    roles: frozenset[StaffRole],
) -> Callable[[Request, sessionmaker[Session]], Coroutine[Any, Any, StaffUser]]:
    """A dependency: the signed-in staff user, who must have one of `roles` (else 403);
    a request that changes something must also carry the session's CSRF token."""

    async def dependency(request: Request, factory: SessionFactory) -> StaffUser:
        user = auth.current_staff(request, factory)
        if user.role not in roles:
            raise HTTPException(status_code=403, detail="your role cannot open this page")
        if request.method not in ("GET", "HEAD"):
            await auth.check_csrf(request)
        return user

    return dependency


CurrentStaff = Annotated[StaffUser, Depends(requires(auth.ANY_STAFF))]
Agent = Annotated[StaffUser, Depends(requires(auth.AGENT_PAGES))]
Marketer = Annotated[StaffUser, Depends(requires(auth.MARKETER_PAGES))]
Admin = Annotated[StaffUser, Depends(requires(auth.ADMIN_PAGES))]
