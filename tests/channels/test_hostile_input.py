"""Hostile webhook input: malformed payloads get a 4xx, never a 5xx, and change nothing;
what is accepted is stored safely, on both databases.

A seeded generator takes the payloads Telegram and Twilio really send and breaks them:
wrong types at every level, missing fields, huge ids, NUL characters and lone
surrogates, invalid UTF-8, bodies that are not JSON or not a form, deep nesting, wrong
content types. Each payload is posted over HTTP, signed as the provider signs it, so
that it reaches the parsing behind the verification.
"""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
from sqlalchemy import select

from crm_store.models import Customer, Direction, Message
from tests.channels.conftest import SHOP_NUMBER, WEBHOOK_SECRET, RunningGateway
from tests.fakes import (
    telegram_blocked_update,
    telegram_contact_update,
    telegram_text_update,
    twilio_sms_form,
    twilio_status_form,
)

SEED = 14
PER_ENDPOINT = 120  # with the fixed cases, a few hundred payloads per database

# Texts that have broken stores and parsers: NUL (PostgreSQL refuses it), lone UTF-16
# halves (no UTF-8 for them), format strings, markup, BOMs, direction overrides.
NASTY_TEXTS = [
    "",
    " ",
    "\x00",
    "訂單\x00呢",
    "\ud800",
    "a\udfffb",
    "\udc00\ud800",
    "\ud83d\ude00 ok",
    "%s%n%x{0}",
    "<script>alert(1)</script>",
    "'; DROP TABLE messages; --",
    "\ufeff\u202eevil",
    "\r\n\t\x0b\x1b[31m",
    "STOP\x00",
    "𝕏" * 300,
    "長" * 5000,
]
HUGE_NUMBERS = [2**31, 2**63, -(2**63) - 1, 2**64 + 1, 10**30, -1, 0]
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass
class Hostile:
    """One payload to post, and what must happen to it."""

    label: str
    path: str
    body: bytes
    headers: dict[str, str | bytes] = field(default_factory=dict)
    # The provider's id the payload was built with: never stored when it is refused.
    origin: str | None = None
    # Well formed: once accepted, its message must be in the store.
    must_store: bool = False


def nasty_text(rng: random.Random) -> str:
    return rng.choice(NASTY_TEXTS)


def wrong_value(rng: random.Random, depth: int = 0) -> Any:
    """Something of a type a webhook field should not have."""
    kinds: list[Callable[[], Any]] = [
        lambda: None,
        lambda: rng.choice([True, False]),
        lambda: rng.choice(HUGE_NUMBERS),
        lambda: rng.choice([1.5, -0.0, 1e308, float("inf"), float("nan")]),
        lambda: nasty_text(rng),
        lambda: [],
        lambda: {},
    ]
    if depth < 2:
        kinds.append(lambda: [wrong_value(rng, depth + 1) for _ in range(rng.randint(1, 3))])
        kinds.append(lambda: {"id": wrong_value(rng, depth + 1), "x": wrong_value(rng, depth + 1)})
    return rng.choice(kinds)()


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON document, as the keys that lead to it."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from paths(item, (*prefix, index))


def mutated(rng: random.Random, document: dict[str, Any]) -> dict[str, Any]:
    """`document` with one to three places replaced by a wrong value or removed."""
    result = copy.deepcopy(document)
    for _ in range(rng.randint(1, 3)):
        places = list(paths(result))
        if not places:
            break
        *parents, last = rng.choice(places)
        container: Any = result
        for key in parents:
            container = container[key]
        if isinstance(container, dict) and rng.random() < 0.3:
            del container[last]
        else:
            container[last] = wrong_value(rng)
    return result


def telegram_post(
    label: str,
    body: bytes,
    *,
    origin: int | None = None,
    must_store: bool = False,
    headers: dict[str, str | bytes] | None = None,
) -> Hostile:
    return Hostile(
        label=label,
        path="/telegram/webhook",
        body=body,
        headers={
            "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET,
            "Content-Type": "application/json",
            **(headers or {}),
        },
        origin=None if origin is None else str(origin),
        must_store=must_store,
    )


def as_json(document: Any) -> bytes:
    # As Telegram writes JSON: ASCII, with lone surrogates as \\udxxx escapes.
    return json.dumps(document, ensure_ascii=True).encode("ascii")


def telegram_payloads(rng: random.Random, count: int, first_id: int) -> Iterator[Hostile]:
    for number in range(count):
        update_id, chat_id = first_id + number, rng.choice([5001, 2**40, -100123])
        kind = rng.randrange(4)
        if kind == 0:  # well formed, with nasty text and names: must be stored
            update = telegram_text_update(
                update_id, 7000 + number, nasty_text(rng) or "x", first_name=nasty_text(rng)
            )
            yield telegram_post(
                "telegram nasty text", as_json(update), origin=update_id, must_store=True
            )
            continue
        base = [
            telegram_text_update(update_id, chat_id, "hello"),
            telegram_contact_update(update_id, chat_id, "886912345678"),
            telegram_blocked_update(update_id, chat_id),
        ][kind - 1]
        yield telegram_post("telegram mutated", as_json(mutated(rng, base)), origin=update_id)


def telegram_fixed_cases() -> Iterator[Hostile]:
    well_formed = as_json(telegram_text_update(5, 1, "hi"))
    yield telegram_post("empty body", b"")
    yield telegram_post("not JSON", b"{not json")
    yield telegram_post("invalid UTF-8", b'{"update_id": 1, "message": "\xff\xfe"}')
    yield telegram_post("UTF-16 body", '{"update_id": 1}'.encode("utf-16"))
    yield telegram_post("JSON null", b"null")
    yield telegram_post("JSON number", b"1.5")
    yield telegram_post("JSON string", b'"update"')
    yield telegram_post("JSON list", b"[1, 2]")
    yield telegram_post("NaN id", b'{"update_id": NaN}')
    yield telegram_post("float message", b'{"update_id": 1, "message": 1.5}')
    yield telegram_post("deep list", b"[" * 100_000 + b"]" * 100_000)
    yield telegram_post("deep object", b'{"update_id": 1, "message": ' + b'{"a": ' * 50_000)
    yield telegram_post("deep message", as_json({"update_id": 2, "message": replying(400)}))
    yield telegram_post("huge body", b'{"update_id": 3, "x": "' + b"a" * 2_000_000 + b'"}')
    yield telegram_post("form body", b"update_id=1", headers={"Content-Type": "text/plain"})
    yield telegram_post("no content type", well_formed, origin=5, headers={"Content-Type": ""})
    yield telegram_post(
        "secret not ASCII",
        well_formed,
        headers={"X-Telegram-Bot-Api-Secret-Token": "é".encode("latin-1")},
    )
    yield telegram_post(
        "empty secret", well_formed, headers={"X-Telegram-Bot-Api-Secret-Token": ""}
    )


def replying(levels: int) -> dict[str, Any]:
    """A message replying to a message replying to ... `levels` deep."""
    message: dict[str, Any] = telegram_text_update(2, 1, "bottom")["message"]
    for _ in range(levels):
        message = {**telegram_text_update(2, 1, "reply")["message"], "reply_to_message": message}
    return message


# --- Twilio ----------------------------------------------------------------------------


def as_form(params: dict[str, str]) -> bytes:
    # Percent-encoded as UTF-8; a lone surrogate becomes the bytes no decoder accepts.
    return "&".join(
        f"{quote(name, errors='surrogatepass')}={quote(value, errors='surrogatepass')}"
        for name, value in params.items()
    ).encode("ascii")


def read_as_the_gateway_does(body: bytes) -> dict[str, str]:
    """The parameters a form body carries, read leniently, which is what Twilio signs."""
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def twilio_post(
    gateway: RunningGateway,
    label: str,
    path: str,
    body: bytes,
    *,
    origin: str | None = None,
    must_store: bool = False,
    content_type: str = "application/x-www-form-urlencoded",
) -> Hostile:
    headers: dict[str, str | bytes] = {"Content-Type": content_type}
    headers.update(gateway.twilio_signature_header(path, read_as_the_gateway_does(body)))
    return Hostile(label, path, body, headers, origin, must_store)


def mutated_form(rng: random.Random, form: dict[str, str]) -> dict[str, str]:
    result = dict(form)
    for _ in range(rng.randint(1, 3)):
        name = rng.choice(list(result))
        choice = rng.random()
        if choice < 0.3:
            del result[name]
        elif choice < 0.8:
            result[name] = nasty_text(rng)
        else:
            result[name] = str(rng.choice([*HUGE_NUMBERS, 1.5, float("nan")]))
        if not result:
            break
    return result


def sms_payloads(
    gateway: RunningGateway, rng: random.Random, count: int, first_id: int
) -> Iterator[Hostile]:
    account = gateway.twilio.account_sid
    for number in range(count):
        sid = f"SM{first_id + number:032x}"
        phone = f"+8869123{number:05d}"
        form = twilio_sms_form(sid, phone, SHOP_NUMBER, "hi", account_sid=account)
        form["Body"] = nasty_text(rng)  # a lone surrogate arrives as bytes no decoder takes
        if number % 3 == 0:  # well formed, with a nasty body: must be stored
            body = as_form(form)
            yield twilio_post(
                gateway, "sms nasty body", "/sms/twilio", body, origin=sid, must_store=True
            )
        else:
            body = as_form(mutated_form(rng, form))
            yield twilio_post(gateway, "sms mutated", "/sms/twilio", body, origin=sid)


def status_payloads(gateway: RunningGateway, rng: random.Random, count: int) -> Iterator[Hostile]:
    account = gateway.twilio.account_sid
    for number in range(count):
        form = twilio_status_form(
            f"SM{number:032x}",
            rng.choice(["delivered", "undelivered", "failed", "sent"]),
            to="+886912300001",
            from_=SHOP_NUMBER,
            account_sid=account,
            error_code=rng.choice([None, "30003", "21610"]),
        )
        body = as_form(mutated_form(rng, form))
        yield twilio_post(gateway, "status mutated", "/sms/twilio/status", body)


def twilio_fixed_cases(gateway: RunningGateway) -> Iterator[Hostile]:
    for path in ("/sms/twilio", "/sms/twilio/status"):
        yield twilio_post(gateway, "empty body", path, b"")
        yield twilio_post(gateway, "invalid UTF-8", path, b"MessageSid=SM1&From=\xff\xfe&Body=\xc3")
        yield twilio_post(gateway, "JSON body", path, b'{"MessageSid": "SM1"}', content_type="")
        yield twilio_post(gateway, "no separators", path, b"&&&===&&")
        yield twilio_post(gateway, "repeated fields", path, b"MessageSid=&MessageSid=SM1&From=1")
        yield twilio_post(gateway, "huge field", path, b"Body=" + b"a" * 2_000_000)
        yield twilio_post(
            gateway, "multipart", path, b"--x\r\n\r\n--x--", content_type="multipart/form-data"
        )
        yield Hostile(
            "signature not ASCII",
            path,
            b"MessageSid=SM1",
            {"X-Twilio-Signature": "é".encode("latin-1")},
        )


# --- the test --------------------------------------------------------------------------


def all_payloads(gateway: RunningGateway) -> list[Hostile]:
    rng = random.Random(SEED)
    return [
        *telegram_fixed_cases(),
        *telegram_payloads(rng, PER_ENDPOINT, first_id=10_000),
        *twilio_fixed_cases(gateway),
        *sms_payloads(gateway, rng, PER_ENDPOINT, first_id=20_000),
        *status_payloads(gateway, rng, PER_ENDPOINT),
    ]


def stored_inbound(gateway: RunningGateway) -> dict[str, str]:
    """Every inbound message in the store, by the provider's id, read back."""
    return gateway.query(
        lambda session: {
            str(message.channel_message_id): message.text
            for message in session.scalars(
                select(Message).where(Message.direction == Direction.INBOUND)
            )
        }
    )


def as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def post(gateway: RunningGateway, hostile: Hostile) -> int:
    """The status the gateway answers `hostile` with; 599 when it dropped the connection."""
    try:
        headers = {name.encode(): as_bytes(value) for name, value in hostile.headers.items()}
        response = gateway.http.post(hostile.path, content=hostile.body, headers=headers)
    except httpx.TransportError:
        return 599
    return response.status_code


def test_hostile_webhook_payloads_get_a_4xx_or_are_stored_safely(gateway: RunningGateway) -> None:
    payloads = all_payloads(gateway)
    outcomes = [(hostile, post(gateway, hostile)) for hostile in payloads]
    server_errors = [
        f"{hostile.label} → {status}: {hostile.body[:120]!r}"
        for hostile, status in outcomes
        if status >= 500
    ]
    assert not server_errors, f"{len(server_errors)} of {len(payloads)}:\n" + "\n".join(
        server_errors
    )
    assert not [(hostile.label, status) for hostile, status in outcomes if 300 <= status < 400]

    stored = stored_inbound(gateway)
    for hostile, status in outcomes:
        if status >= 400:
            assert hostile.origin not in stored, (
                f"{hostile.label} was refused but changed the store"
            )
        elif hostile.must_store:
            assert hostile.origin in stored, f"{hostile.label} was accepted but not stored"
    for provider_id, text in stored.items():
        assert not UNSTORABLE.search(text), f"{provider_id} stored {text!r}"
    names = gateway.query(lambda session: list(session.scalars(select(Customer.name))))
    assert not [name for name in names if name and UNSTORABLE.search(name)]
    # The gateway still serves after all of it.
    gateway.say_on_telegram(99_999, 9999, "還在嗎？")
    assert "99999" in stored_inbound(gateway)
