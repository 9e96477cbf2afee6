from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.conversations import identity_for, open_conversation
from crm_store.models import (
    Channel,
    ComplaintCategory,
    ConversationMode,
    Handoff,
    HandoffReason,
    HandoffStatus,
    Language,
    RecoveryStep,
    SatisfactionSurvey,
    SurveyStatus,
    TicketStatus,
    Tier,
)
from crm_store.surveys import pending_survey, record_score
from crm_store.tickets import (
    is_repeat_complaint,
    record_step,
    request_handoff,
    schedule_survey,
    steps_done,
)
from tests.factories import make_ticket, utc

NOW = utc(2026, 11, 23, 3, 0)


def new_talk(session: Session, address: str = "555"):  # type: ignore[no-untyped-def]
    identity = identity_for(
        session,
        channel=Channel.TELEGRAM,
        address=address,
        language=Language.EN,
        timezone="Asia/Taipei",
        now=NOW,
    )
    return identity, open_conversation(session, identity, now=NOW)


def test_a_new_address_becomes_a_customer_once(session: Session) -> None:
    first, conversation = new_talk(session)
    again, same_conversation = new_talk(session)
    assert first.id == again.id
    assert conversation.id == same_conversation.id
    assert first.customer.language is Language.EN
    assert first.marketing_consent is False  # writing in is not consent to marketing


def test_steps_are_logged_with_their_times(session: Session) -> None:
    identity, conversation = new_talk(session)
    ticket = make_ticket(
        session,
        identity.customer,
        conversation=conversation,
        category=ComplaintCategory.DELIVERY,
        language=Language.EN,
        text=" late ",
        now=NOW,
    )
    record_step(session, ticket, RecoveryStep.THANK, now=NOW + timedelta(minutes=1))
    record_step(session, ticket, RecoveryStep.THANK, now=NOW + timedelta(minutes=5))
    assert ticket.description == "late"
    assert ticket.reference == f"C-{ticket.id:06d}"
    assert steps_done(ticket) == {
        RecoveryStep.EMPATHISE: NOW,
        RecoveryStep.THANK: NOW + timedelta(minutes=1),
    }


def test_repeat_complaint_within_30_days(session: Session) -> None:
    identity, conversation = new_talk(session)

    def complain(when):  # type: ignore[no-untyped-def]
        return make_ticket(
            session,
            identity.customer,
            conversation=conversation,
            category=ComplaintCategory.QUALITY,
            language=Language.EN,
            text="broken",
            now=when,
        )

    first = complain(NOW - timedelta(days=40))
    first.status = TicketStatus.RESOLVED
    assert not is_repeat_complaint(session, first, now=NOW - timedelta(days=40))
    second = complain(NOW - timedelta(days=5))
    assert not is_repeat_complaint(session, second, now=NOW - timedelta(days=5))  # 35 days on
    third = complain(NOW)
    # The second is still open: what the customer says now belongs to it, not a repeat.
    assert not is_repeat_complaint(session, third, now=NOW)
    second.status = TicketStatus.RESOLVED
    assert is_repeat_complaint(session, third, now=NOW)


def test_handoff_queues_once_and_gives_the_conversation_to_a_person(session: Session) -> None:
    identity, conversation = new_talk(session)
    identity.customer.tier = Tier.VIP
    ticket = make_ticket(
        session,
        identity.customer,
        conversation=conversation,
        category=ComplaintCategory.BILLING,
        language=Language.EN,
        text="charged twice",
        now=NOW,
    )
    first = request_handoff(
        session,
        conversation=conversation,
        customer=identity.customer,
        reason=HandoffReason.VIP_COMPLAINT,
        ticket=ticket,
        now=NOW,
    )
    again = request_handoff(
        session,
        conversation=conversation,
        customer=identity.customer,
        reason=HandoffReason.ASKED_FOR_PERSON,
        ticket=ticket,
        now=NOW,
    )
    assert first.id == again.id
    assert first.status is HandoffStatus.WAITING
    assert first.priority == 60  # VIP tier 40 + VIP complaint 20
    assert conversation.mode is ConversationMode.HUMAN
    assert ticket.status is TicketStatus.HANDED_OFF
    assert len(session.scalars(select(Handoff)).all()) == 1


def test_low_survey_score_reopens_the_ticket(session: Session) -> None:
    identity, conversation = new_talk(session)
    ticket = make_ticket(
        session,
        identity.customer,
        conversation=conversation,
        category=ComplaintCategory.DELIVERY,
        language=Language.EN,
        text="late",
        now=NOW,
    )
    ticket.status = TicketStatus.RESOLVED
    survey = schedule_survey(session, ticket, due_at=NOW + timedelta(days=3))
    assert schedule_survey(session, ticket, due_at=NOW + timedelta(days=4)).id == survey.id
    assert pending_survey(session, identity.customer_id) is None  # not sent yet
    survey.status = SurveyStatus.SENT
    survey.sent_at = NOW + timedelta(days=4)
    assert pending_survey(session, identity.customer_id) is survey

    record_score(session, survey, score=2, reply="2 還是很慢", now=NOW + timedelta(days=5))
    assert (ticket.satisfaction_score, ticket.status) == (2, TicketStatus.REOPENED)
    assert survey.status is SurveyStatus.ANSWERED
    assert session.scalars(select(SatisfactionSurvey)).one().reply_text == "2 還是很慢"
