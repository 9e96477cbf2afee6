"""Short answers read the way customers mean them, end to end through the gateway.

"that's it" and "就這樣" end a story at "anything else?", so the NLU learnt them as a
no; at the complaint's confirmation they are a yes, and were taken for a no ("Sorry, I
got that wrong") before the form read them in place. "nvm" drops what the customer
asked; it was answered "I can't help with that".
"""

from __future__ import annotations

import pytest

from crm_store.models import DesiredOutcome, Language, TicketStatus
from tests.channels.conftest import RunningGateway
from tests.channels.test_conversations import SmsCustomer, TelegramCustomer
from tests.channels.test_real_conversations import (
    assert_never_confused,
    make_shopper,
    says_any,
    shop,
    tickets_of,
)

pytestmark = pytest.mark.rasa
__all__ = ["shop"]  # the module's gateway, Rasa and action server


def test_en_telegram_thats_it_confirms_the_repair(shop: RunningGateway) -> None:
    with shop.store() as session:
        me = make_shopper(session, language=Language.EN, chat_id="82001")
    customer = TelegramCustomer(shop, 82001)
    answers = [customer.says("my thermos leaks everywhere")]
    assert says_any(answers[-1], "utter_complaint_empathise"), answers[-1]
    answers.append(customer.says("thats all"))
    assert me.container in answers[-1], answers[-1]  # the recent order with the thermos
    answers.append(customer.says("yeah that one"))
    assert says_any(answers[-1], "utter_ask_desired_outcome"), answers[-1]
    answers.append(customer.says("can u fix it"))
    assert says_any(answers[-1], "utter_confirm_repair"), answers[-1]
    answers.append(customer.says("that's it"))
    assert says_any(answers[-1], "utter_resolution_repair"), answers[-1]
    assert_never_confused(answers)
    [ticket] = tickets_of(shop, me.customer_id)
    assert ticket.desired_outcome is DesiredOutcome.REPAIR
    assert ticket.status is not TicketStatus.HANDED_OFF


def test_zh_sms_jiu_zheyang_confirms_the_replacement(shop: RunningGateway) -> None:
    phone = "+886912820002"
    with shop.store() as session:
        me = make_shopper(session, language=Language.ZH_TW, phone=phone)
    customer = SmsCustomer(shop, phone)
    answers = [customer.says("浴巾顏色寄錯了啦 我要的是白的")]
    assert says_any(answers[-1], "utter_complaint_empathise"), answers[-1]
    answers.append(customer.says("沒了"))
    assert me.towel in answers[-1], answers[-1]
    answers.append(customer.says("嗯"))
    assert says_any(answers[-1], "utter_ask_desired_outcome"), answers[-1]
    answers.append(customer.says("換貨"))
    assert says_any(answers[-1], "utter_confirm_replacement"), answers[-1]
    answers.append(customer.says("就這樣"))
    assert says_any(answers[-1], "utter_resolution_replacement"), answers[-1]
    assert_never_confused(answers)
    [ticket] = tickets_of(shop, me.customer_id)
    assert ticket.desired_outcome is DesiredOutcome.REPLACEMENT


def test_en_telegram_a_no_with_a_correction_at_the_confirmation_is_still_a_no(
    shop: RunningGateway,
) -> None:
    with shop.store() as session:
        me = make_shopper(session, language=Language.EN, chat_id="82003")
    customer = TelegramCustomer(shop, 82003)
    answers = [customer.says("the towel came in the wrong colour smh")]
    answers.append(customer.says("nothing else"))
    answers.append(customer.says("yes"))
    answers.append(customer.says("replacement pls"))
    assert says_any(answers[-1], "utter_confirm_replacement"), answers[-1]
    answers.append(customer.says("no that's not it, i want a refund"))
    assert says_any(answers[-1], "utter_confirm_refund"), answers[-1]
    answers.append(customer.says("yep thats right"))
    assert says_any(answers[-1], "utter_resolution_refund"), answers[-1]
    assert_never_confused(answers)
    [ticket] = tickets_of(shop, me.customer_id)
    assert ticket.desired_outcome is DesiredOutcome.REFUND


def test_en_sms_nvm_after_a_question_is_let_go(shop: RunningGateway) -> None:
    phone = "+886912820004"
    with shop.store() as session:
        make_shopper(session, language=Language.EN, phone=phone)
    customer = SmsCustomer(shop, phone)
    answers = [customer.says("whens my order coming")]
    answers.append(customer.says("oh nvm i see it"))
    assert says_any(answers[-1], "utter_no_problem"), answers[-1]
    answers.append(customer.says("what time u open on sat"))
    assert says_any(answers[-1], "utter_store_info"), answers[-1]
    answers.append(customer.says("k nvm"))
    assert says_any(answers[-1], "utter_no_problem") or says_any(
        answers[-1], "utter_here_when_needed"
    ), answers[-1]
    assert not any(says_any(answer, "utter_out_of_scope") for answer in answers), answers
    assert_never_confused(answers)


def test_zh_telegram_suanle_after_a_question_is_let_go(shop: RunningGateway) -> None:
    with shop.store() as session:
        make_shopper(session, language=Language.ZH_TW, chat_id="82005")
    customer = TelegramCustomer(shop, 82005)
    answers = [customer.says("請問可以用什麼付款")]
    assert says_any(answers[-1], "utter_payment_methods"), answers[-1]
    answers.append(customer.says("喔 算了 沒事"))
    assert says_any(answers[-1], "utter_no_problem"), answers[-1]
    assert_never_confused(answers)
