import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import AuditLog, StaffRole, StaffUser
from crm_store.staff import StaffUserExists, WeakPassword, authenticate, create_staff_user


def add(
    session: Session, email: str = "Agent@Shop.tw", password: str = "correct horse"
) -> StaffUser:
    return create_staff_user(
        session=session,
        email=email,
        display_name="Agent",
        role=StaffRole.AGENT,
        password=password,
        actor="test",
    )


def test_password_is_stored_as_argon2_hash_and_checked(session: Session) -> None:
    user = add(session)
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash
    assert authenticate(session, email="agent@shop.tw", password="correct horse") is user
    assert authenticate(session, email="agent@shop.tw", password="wrong horse!") is None
    assert authenticate(session, email="nobody@shop.tw", password="correct horse") is None
    user.active = False
    assert authenticate(session, email="agent@shop.tw", password="correct horse") is None


def test_duplicate_email_and_weak_password_are_refused(session: Session) -> None:
    add(session)
    with pytest.raises(StaffUserExists):
        add(session, email="agent@shop.tw")
    with pytest.raises(WeakPassword):
        add(session, email="other@shop.tw", password="short")
    assert len(session.scalars(select(StaffUser)).all()) == 1


def test_adding_staff_is_audited(session: Session) -> None:
    user = add(session)
    entry = session.scalars(select(AuditLog)).one()
    assert (entry.action, entry.entity_id, entry.details) == (
        "staff.add",
        str(user.id),
        {"email": "agent@shop.tw", "role": "agent"},
    )
