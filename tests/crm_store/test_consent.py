"""Consent changes: the identity's state, and a line in the audit log for each."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.consent import set_consent
from crm_store.models import AuditLog
from tests.factories import make_customer, utc


def test_opting_out_and_back_in_is_recorded_with_who_and_when(session: Session) -> None:
    customer = make_customer(session, phone="+886912345678", marketing_consent=True)
    identity = customer.identities[0]
    stop_at, start_at = utc(2026, 11, 30, 9, 0), utc(2026, 12, 1, 10, 30)

    set_consent(
        session,
        identity,
        opted_in=False,
        now=stop_at,
        actor="sms:+886912345678",
        details={"keyword": "STOP"},
    )
    assert (identity.opted_out, identity.marketing_consent) == (True, False)
    assert identity.opted_out_at == stop_at

    set_consent(session, identity, opted_in=True, now=start_at, actor="bot")
    assert (identity.opted_out, identity.marketing_consent) == (False, True)
    assert (identity.opted_out_at, identity.consent_changed_at) == (None, start_at)
    session.commit()

    trail = session.scalars(select(AuditLog).order_by(AuditLog.id)).all()
    assert [(e.action, e.actor, e.entity, e.entity_id, e.details) for e in trail] == [
        (
            "consent.opt_out",
            "sms:+886912345678",
            "channel_identity",
            str(identity.id),
            {"keyword": "STOP"},
        ),
        ("consent.opt_in", "bot", "channel_identity", str(identity.id), None),
    ]
