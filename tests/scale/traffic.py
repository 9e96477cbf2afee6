"""Customers writing to the shop over Telegram and SMS, through a load balancer in front
of several gateways.

The balancer spreads webhooks over the gateways in turn and delivers again, to the next
gateway, a webhook that got no answer or a 5xx: what a load balancer with health checks
and Telegram's and Twilio's own re-delivery do together.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from crm_store.models import Channel, Language
from tests.fakes import (
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    telegram_text_update,
    twilio_signature,
    twilio_sms_form,
)
from tests.scale.cluster import SHOP_NUMBER, WEBHOOK_SECRET

# Four questions with four different answers each (the bot treats the same answer twice
# in a row as a broken turn): opening hours, shipping, returns, payment.
QUESTIONS = {
    Language.ZH_TW: ["你們幾點開門", "運費多少", "退貨規定是什麼", "可以用信用卡付款嗎"],
    Language.EN: [
        "what time do you open",
        "how much is shipping",
        "what's your return policy",
        "what payment methods do you take",
    ],
}
REDELIVER_FOR = 120.0  # seconds a webhook is re-delivered before the test gives up


@dataclass(frozen=True)
class Shopper:
    channel: Channel
    address: str  # the Telegram chat id or the E.164 number
    language: Language


@dataclass(frozen=True)
class Posted:
    shopper: Shopper
    provider_id: str  # Telegram's update_id or Twilio's MessageSid
    text: str


class Balancer:
    """The gateways' shared front door."""

    def __init__(self, urls: list[str], public_url: str) -> None:
        self.urls = list(urls)
        self.public_url = public_url
        self.redeliveries = 0
        self._turn = itertools.count()
        self._http = httpx.AsyncClient(
            timeout=30, limits=httpx.Limits(max_connections=400, max_keepalive_connections=100)
        )

    def replace(self, old: str, new: str | None) -> None:
        """Take `old` out of the rotation (its health check failed); put `new` in."""
        self.urls.remove(old)
        if new is not None:
            self.urls.append(new)

    async def close(self) -> None:
        await self._http.aclose()

    async def post(self, path: str, *, content: bytes, headers: dict[str, str]) -> None:
        deadline = time.monotonic() + REDELIVER_FOR
        while True:
            urls = self.urls
            url = urls[next(self._turn) % len(urls)]
            try:
                response = await self._http.post(url + path, content=content, headers=headers)
            except httpx.TransportError:
                pass  # the gateway died under the request, or is gone
            else:
                if response.status_code < 300:
                    return
                if response.status_code < 500:
                    raise AssertionError(f"{path} refused: {response.status_code} {response.text}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no gateway took {path} in {REDELIVER_FOR} s")
            self.redeliveries += 1
            await asyncio.sleep(0.2)


class Customers:
    """Shoppers asking their questions a few seconds apart, all at once."""

    def __init__(self, balancer: Balancer, shoppers: list[Shopper], *, seed: int) -> None:
        self._balancer, self._shoppers = balancer, shoppers
        self._rng = random.Random(seed)
        self._update_ids = itertools.count(1)
        self.posted: list[Posted] = []

    async def run(self, *, spread: float, pause: tuple[float, float]) -> None:
        """Each shopper starts within `spread` seconds and waits `pause` between messages."""
        await asyncio.gather(
            *(
                self._converse(shopper, self._rng.uniform(0, spread), pause)
                for shopper in self._shoppers
            )
        )

    async def _converse(self, shopper: Shopper, start: float, pause: tuple[float, float]) -> None:
        questions = list(QUESTIONS[shopper.language])
        self._rng.shuffle(questions)
        await asyncio.sleep(start)
        for text in questions:
            self.posted.append(await self._say(shopper, text))
            await asyncio.sleep(self._rng.uniform(*pause))

    async def _say(self, shopper: Shopper, text: str) -> Posted:
        if shopper.channel is Channel.TELEGRAM:
            update_id = next(self._update_ids)
            update = telegram_text_update(
                update_id,
                int(shopper.address),
                text,
                first_name="Shopper",
                language_code="en" if shopper.language is Language.EN else "zh-hant",
            )
            await self._balancer.post(
                "/telegram/webhook",
                content=json.dumps(update).encode(),
                headers={
                    "Content-Type": "application/json",
                    "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET,
                },
            )
            return Posted(shopper, str(update_id), text)
        sid = "SM" + uuid.uuid4().hex
        form = twilio_sms_form(
            sid, shopper.address, SHOP_NUMBER, text, account_sid=TWILIO_ACCOUNT_SID
        )
        signature = twilio_signature(
            self._balancer.public_url + "/sms/twilio", form, TWILIO_AUTH_TOKEN
        )
        await self._balancer.post(
            "/sms/twilio",
            content=urlencode(form).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
            },
        )
        return Posted(shopper, sid, text)
