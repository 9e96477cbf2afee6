"""SMS by the number's region: Taiwanese numbers through Mitake, the rest through Twilio.

Twilio cannot carry two-way SMS in Taiwan and overwrites the sender there, so a shop
with a Mitake account (`MITAKE_USERNAME`) sends to +886 numbers through it; every
other number goes to Twilio exactly as before. On the way out a Taiwanese SMS gets
what Taiwan's rules ask of its text (`crm_store.tw_sms_rules`): the shop's sender tag
first, and on an answer to a customer, where they cannot answer by SMS, the shop's
LINE ID. The rules that decide whether and when it goes are the sending rules'.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime

# The modules, not their names: `channels.senders` wires this sender in.
from channels import mitake, senders
from crm_store.models import Channel, MessagePurpose
from crm_store.settings import Settings
from crm_store.tw_sms_rules import TaiwanSms, is_taiwanese, one_way_footer, tagged


class RegionalSms:
    """One SMS sender made of two: `taiwan` for +886 numbers, `abroad` for the rest."""

    channel = Channel.SMS

    def __init__(self, *, abroad: senders.Sender, taiwan: senders.Sender, rules: TaiwanSms) -> None:
        self._abroad, self._taiwan, self._rules = abroad, taiwan, rules

    async def start(self) -> None:
        await asyncio.gather(self._abroad.start(), self._taiwan.start())

    async def close(self) -> None:
        await asyncio.gather(self._abroad.close(), self._taiwan.close())

    async def send(self, message: senders.Outgoing) -> str | None:
        sender, outgoing = self._route(message)
        return await sender.send(outgoing)

    async def find_sent(self, message: senders.Outgoing, *, since: datetime) -> str | None:
        sender, outgoing = self._route(message)
        return await sender.find_sent(outgoing, since=since)

    def _route(self, message: senders.Outgoing) -> tuple[senders.Sender, senders.Outgoing]:
        if not is_taiwanese(message.address):
            return self._abroad, message
        return self._taiwan, replace(message, text=self.dressed(message))

    def dressed(self, message: senders.Outgoing) -> str:
        """A Taiwanese SMS's text as it goes out: the sender tag first, and on an answer
        the customer cannot reply to by SMS, where to reach the shop."""
        text, rules = message.text, self._rules
        if message.purpose is MessagePurpose.REPLY and rules.line_id and not rules.two_way:
            text = f"{text}\n{one_way_footer(text, line_id=rules.line_id)}"
        return tagged(text, shop_name=rules.shop_name)


def regional_sms(settings: Settings, abroad: senders.Sender) -> senders.Sender:
    """`abroad` alone, or with Mitake for Taiwanese numbers when its account is set."""
    if not settings.mitake_username or settings.mitake_password is None:
        return abroad
    taiwan = mitake.MitakeSender(
        username=settings.mitake_username,
        password=settings.mitake_password.get_secret_value(),
        api_url=settings.mitake_api_url,
        status_callback=mitake.callback_url(settings),
    )
    return RegionalSms(abroad=abroad, taiwan=taiwan, rules=settings.taiwan_sms)
