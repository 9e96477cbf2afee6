"""Rendering a console page: the templates, the staff member's language, the shop's time.

Server-rendered with Jinja2; a little plain JavaScript (static/console.js) keeps the
queue and the transcript live over server-sent events and posts forms with the CSRF
token. Every page gets the signed-in user, the translator `t`, the CSRF token and
`local`, which shows a time in the shop's zone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from console import auth
from console.deps import Clock, SettingsDep
from console.texts import translator
from crm_store.models import Language, StaffUser
from crm_store.settings import Settings

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))
STATIC = Path(__file__).with_name("static")


def ui_language(request: Request, user: StaffUser | None) -> Language:
    """The language chosen in this session, else the user's own, else Chinese."""
    chosen = request.session.get("lang")
    if chosen in {language.value for language in Language}:
        return Language(chosen)
    return user.language if user is not None else Language.ZH_TW


@dataclass(frozen=True)
class Renderer:
    """Renders the request's pages; handed to a page as `Render`."""

    request: Request
    settings: Settings
    clock: Callable[[], datetime]

    def shop_time(self, moment: datetime, pattern: str) -> str:
        """Staff read every time in the shop's zone, whatever the database keeps."""
        return moment.astimezone(self.settings.opening_hours.timezone).strftime(pattern)

    def translator(self, user: StaffUser | None) -> Callable[..., str]:
        return translator(ui_language(self.request, user))

    def __call__(
        self, template: str, user: StaffUser | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        language = ui_language(self.request, user)
        return TEMPLATES.TemplateResponse(
            self.request,
            template,
            {
                "user": user,
                "t": translator(language),
                "lang": language.value,
                "csrf": auth.csrf_token(self.request),
                "now": self.clock(),
                "local": self.shop_time,
                **context,
            },
            status_code=status,
        )


def renderer(request: Request, settings: SettingsDep, clock: Clock) -> Renderer:
    return Renderer(request=request, settings=settings, clock=clock)


Render = Annotated[Renderer, Depends(renderer)]
