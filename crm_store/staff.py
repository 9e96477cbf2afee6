"""Staff users of the console: creation and password checks (argon2id)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.audit import record_audit
from crm_store.models import Language, StaffRole, StaffUser

MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()


class StaffUserExists(ValueError):
    def __init__(self, email: str) -> None:
        super().__init__(f"a staff user with e-mail {email} already exists")
        self.email = email


class WeakPassword(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def create_staff_user(
    *,
    session: Session,
    email: str,
    display_name: str,
    role: StaffRole,
    password: str,
    language: Language = Language.ZH_TW,
    actor: str,
) -> StaffUser:
    """Add a staff user.

    Raises:
        StaffUserExists: when the e-mail address is taken (case does not matter).
        WeakPassword: when the password is too short.
    """
    email = email.strip().lower()
    if "@" not in email:
        raise ValueError(f"{email!r} is not an e-mail address")
    if session.scalar(select(StaffUser.id).where(func.lower(StaffUser.email) == email)):
        raise StaffUserExists(email)
    user = StaffUser(
        email=email,
        display_name=display_name.strip() or email,
        role=role,
        language=language,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="staff.add",
        entity="staff_user",
        entity_id=user.id,
        details={"email": email, "role": role.value},
    )
    return user


def authenticate(session: Session, *, email: str, password: str) -> StaffUser | None:
    """The active staff user with these credentials, or None.

    A stored hash made with weaker parameters is upgraded on success.
    """
    user = session.scalar(
        select(StaffUser).where(func.lower(StaffUser.email) == email.strip().lower())
    )
    if user is None or not user.active:
        # Hash anyway so that unknown addresses take as long as wrong passwords.
        _hasher.hash(password)
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user
