"""`crmbot staff`: console users."""

from __future__ import annotations

import getpass
import secrets
import sys
from typing import Annotated

import typer
from sqlalchemy import func, select

from crm_store.models import Language, StaffRole, StaffUser
from crm_store.settings import get_settings
from crm_store.staff import StaffUserExists, WeakPassword, create_staff_user
from crmbot.cli.common import CLI_ACTOR, fail, out, store_session

staff_app = typer.Typer(help="Console users.", no_args_is_help=True)


@staff_app.command("add")
def staff_add(
    email: Annotated[str, typer.Argument(help="Sign-in e-mail address.")],
    role: Annotated[StaffRole, typer.Option(help="What the user may do.")] = StaffRole.AGENT,
    name: Annotated[str, typer.Option(help="Name shown to colleagues.")] = "",
    language: Annotated[Language, typer.Option(help="Console language.")] = Language.ZH_TW,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input (for scripts).")
    ] = False,
) -> None:
    """Add a console user; the password is asked for (twice) unless --password-stdin."""
    settings = get_settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise fail("the passwords differ")
    with store_session(settings) as session:
        try:
            user = create_staff_user(
                session=session,
                email=email,
                display_name=name,
                role=role,
                password=password,
                language=language,
                actor=CLI_ACTOR,
            )
        except (StaffUserExists, WeakPassword, ValueError) as error:
            raise fail(str(error)) from error
    out.print(f"staff user #{user.id} {user.email} added as {user.role.value}")


DEMO_ADMIN = "admin@demo.local"


@staff_app.command("demo-admin")
def staff_demo_admin() -> None:
    """Create a demo admin with a generated password, printed once (for `make run`).

    Does nothing when any staff user exists: a shop that added its own staff gets no
    demo account.
    """
    settings = get_settings()
    with store_session(settings) as session:
        if session.scalar(select(func.count()).select_from(StaffUser)):
            out.print("staff users exist; no demo admin created")
            return
        password = secrets.token_urlsafe(12)
        create_staff_user(
            session=session,
            email=DEMO_ADMIN,
            display_name="Demo admin",
            role=StaffRole.ADMIN,
            password=password,
            actor=CLI_ACTOR,
        )
    out.print(
        f"[bold]Demo admin created.[/bold] Sign in at {settings.public_base_url}/console as\n"
        f"  e-mail:   {DEMO_ADMIN}\n  password: {password}\n"
        "(shown only this once; add real staff with `crmbot staff add`)"
    )
