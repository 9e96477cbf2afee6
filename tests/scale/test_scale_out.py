"""Scale-out: two of every process on one PostgreSQL and one Redis, while things break.

Two gateways, two Rasa servers (tracker store in PostgreSQL, lock store in Redis), two
action servers and two schedulers run as real processes. 200 customers ask questions over
Telegram and SMS through a load balancer that spreads them over both gateways, while a
10,000-recipient campaign goes out. Meanwhile a gateway and a scheduler are killed with
SIGKILL (a supervisor starts a replacement for each) and a Rasa server is restarted.

Afterwards, from what the fake providers received, what the store recorded and what
Rasa's tracker saw: no customer message lost or answered twice, each conversation's
replies in order, the campaign sent once to everyone (by Telegram, once more only when
in flight at the crash, as the README says), and never more than the providers' limits
in any one second, all processes together. The figures are printed for the record.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm_store.bulk import bulk_insert
from crm_store.db import make_engine, make_session_factory, session_scope
from crm_store.models import (
    Channel,
    ChannelIdentity,
    Direction,
    Language,
    Message,
    OutboxMessage,
    OutboxStatus,
    StaffRole,
)
from crm_store.settings import Settings
from tests.factories import (
    bulk_customers,
    consenting_rows,
    consenting_sms_rows,
    make_staff,
    scheduled_campaign,
)
from tests.fakes import FakeTelegram, FakeTwilio
from tests.processes import free_port
from tests.scale import audit, report
from tests.scale.cluster import (
    Cluster,
    Limits,
    shop_environment,
)
from tests.scale.traffic import Balancer, Customers, Shopper

# About four minutes on two idle cores; more on a busy machine, which must not fail it:
# the waits below end on progress, and this timeout only stops a run that hangs.
pytestmark = [pytest.mark.scale, pytest.mark.postgres, pytest.mark.rasa, pytest.mark.timeout(2400)]

RECIPIENTS = 10_000
CHATTERS = 200
# High enough that the campaign takes about a minute; the point is that all processes
# together keep to them.
LIMITS = Limits(telegram_per_second=150, twilio_segments_per_second=150)
CAMPAIGN = {
    "zh-TW": "{{ name }}，週年慶全館 85 折！",
    "en": "{{ name }}, 15% off everything for our anniversary!",
}
SEED = 20261201
# Every customer starts within this many seconds, while the campaign goes out: about 30
# conversations at a time, as many turns a second as two Rasa servers serve on two
# cores beside the campaign. Squeezed into 30 s, Rasa answered later than the gateway
# waits (RASA_TIMEOUT_SECONDS), and a turn Rasa had answered was replayed: the customer
# got one answer, but Rasa saw the message twice.
SPREAD_SECONDS = 90
# Longer than anything that may pause the work with nobody at fault: a turn or a send
# left by a killed process waits for its lease, and a campaign row for its retry.
STALL_SECONDS = 240


def telegram_chat(customer_id: int) -> str:
    return str(800_000_000 + customer_id)


def populate(database_url: str) -> list[Shopper]:
    """RECIPIENTS consenting customers, every other one on Telegram and the rest on SMS;
    the CHATTERS who will write to the shop (half of them in English)."""
    now = datetime.now(UTC)
    engine = make_engine(database_url)
    with session_scope(make_session_factory(engine)) as session:
        english = bulk_customers(session, CHATTERS // 2, now=now, language=Language.EN)
        chinese = bulk_customers(session, RECIPIENTS - CHATTERS // 2, now=now)
        ids = english + chinese
        on_telegram, on_sms = ids[0::2], ids[1::2]
        chats = [telegram_chat(customer_id) for customer_id in on_telegram]
        bulk_insert(
            session,
            ChannelIdentity,
            consenting_rows(on_telegram, Channel.TELEGRAM, chats, now=now)
            + consenting_sms_rows(on_sms, now=now),
        )
    engine.dispose()
    telegram = set(on_telegram)
    return [
        Shopper(Channel.TELEGRAM, telegram_chat(customer_id), language)
        if customer_id in telegram
        else Shopper(Channel.SMS, f"+8869{customer_id:08d}", language)
        for customer_ids, language in (
            (english, Language.EN),
            (chinese[: CHATTERS // 2], Language.ZH_TW),
        )
        for customer_id in customer_ids
    ]


def launch_campaign(database_url: str) -> int:
    """A campaign to everyone, approved and due now, as marketers make one."""
    now = datetime.now(UTC)
    engine = make_engine(database_url)
    with session_scope(make_session_factory(engine)) as session:
        campaign_id = scheduled_campaign(
            session,
            author=make_staff(session, "mia@shop.test", StaffRole.MARKETER),
            approver=make_staff(session, "leo@shop.test", StaffRole.MARKETER),
            templates=CAMPAIGN,
            send_at=now,
            now=now,
        ).id
    engine.dispose()
    return campaign_id


def wait_while_progressing(
    done: Callable[[], bool], progress: Callable[[], object], *, stall: float, what: str
) -> None:
    """Wait until `done`; fail only when `progress` has not changed for `stall` seconds,
    so that a slow machine is waited for and a stuck shop is not."""
    last, changed = progress(), time.monotonic()
    while not done():
        time.sleep(1)
        now = progress()
        if now != last:
            last, changed = now, time.monotonic()
        elif time.monotonic() - changed > stall:
            raise AssertionError(f"no progress in {stall} s waiting for {what}: {now}")


class Shop:
    """The running processes, and what the test does to them."""

    def __init__(self, cluster: Cluster, env: dict[str, str], stack: ExitStack) -> None:
        self.cluster, self.env = cluster, env
        engine = make_engine(env["DATABASE_URL"])
        stack.callback(engine.dispose)
        self.store = make_session_factory(engine)
        self.killed: list[str] = []
        self.rasa: dict[str, str] = {}
        self.gateways: dict[str, str] = {}

    def start(self, *, tracker_url: str) -> None:
        """Two of each, all at once; Rasa's tracker store in `tracker_url`."""
        cluster = self.cluster
        rasa_settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=self.env["DATABASE_URL"],
            rasa_tracker_url=tracker_url,
            redis_url=self.env["REDIS_URL"],
            redis_key_prefix=self.env["REDIS_KEY_PREFIX"],
        )
        for n in (1, 2):
            store_url = self.env["DATABASE_URL"]
            action_url = cluster.start_actions(f"actions-{n}", database_url=store_url)
            self.rasa[f"rasa-{n}"] = cluster.start_rasa(
                f"rasa-{n}", action_url=action_url, settings=rasa_settings
            )
            cluster.start_scheduler(f"scheduler-{n}", env=self.env)
            self.start_gateway(f"gateway-{n}", rasa=f"rasa-{n}")
        cluster.wait_ready(*cluster.services)

    def start_gateway(self, name: str, *, rasa: str) -> None:
        self.gateways[name] = self.cluster.start_gateway(
            name, env=self.env, rasa_url=self.rasa[rasa]
        )

    def campaign_sent(self, campaign_id: int) -> int:
        with self.store() as session:
            return int(
                session.scalar(
                    select(func.count()).where(
                        OutboxMessage.campaign_id == campaign_id,
                        OutboxMessage.status == OutboxStatus.SENT,
                    )
                )
                or 0
            )

    def progress(self) -> tuple[int, int]:
        """How many outbox rows are out and how many customer messages handled."""
        with self.store() as session:
            sent = session.scalar(
                select(func.count()).where(
                    OutboxMessage.status.not_in((OutboxStatus.PENDING, OutboxStatus.SENDING))
                )
            )
            handled = session.scalar(
                select(func.count()).where(
                    Message.direction == Direction.INBOUND, Message.handled_at.is_not(None)
                )
            )
        return int(sent or 0), int(handled or 0)

    def settled(self) -> bool:
        """Nothing left to send and no customer message waiting."""
        with self.store() as session:
            sending = session.scalar(
                select(func.count()).where(
                    OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING))
                )
            )
            waiting = session.scalar(
                select(func.count()).where(
                    Message.direction == Direction.INBOUND, Message.handled_at.is_(None)
                )
            )
        return sending == 0 and waiting == 0

    async def kill(self, name: str) -> audit.Disruption:
        self.killed.append(name)
        return await self._disrupt(f"{name} killed", self.cluster.kill, name)

    async def restart(self, name: str) -> audit.Disruption:
        return await self._disrupt(f"{name} restarted", self.cluster.restart, name)

    @staticmethod
    async def _disrupt(what: str, action: Callable[[str], object], name: str) -> audit.Disruption:
        disruption = audit.Disruption(what, wall=time.time(), mono=time.monotonic())
        await asyncio.to_thread(action, name)
        return disruption

    def died_on_their_own(self) -> dict[str, str]:
        """The log's end of every process that is not running but was not killed."""
        return {
            name: self.cluster.log_tail(name)
            for name in self.cluster.services
            if name not in self.killed and not self.cluster.alive(name)
        }


async def play(
    shop: Shop, balancer: Balancer, customers: Customers, campaign_id: int
) -> list[audit.Disruption]:
    """The customers write while the campaign goes out; meanwhile a gateway and a
    scheduler die and are replaced, and a Rasa server restarts."""
    traffic = asyncio.create_task(customers.run(spread=SPREAD_SECONDS, pause=(2.0, 4.0)))
    disruptions = []
    await asyncio.sleep(6)
    disruptions.append(await shop.kill("gateway-1"))
    await asyncio.sleep(1)  # the balancer's health check notices
    balancer.replace(shop.gateways["gateway-1"], None)
    shop.start_gateway("gateway-3", rasa="rasa-1")
    await asyncio.to_thread(shop.cluster.wait_ready, "gateway-3")
    balancer.urls.append(shop.gateways["gateway-3"])

    while await asyncio.to_thread(shop.campaign_sent, campaign_id) < RECIPIENTS // 4:
        await asyncio.sleep(0.5)
    disruptions.append(await shop.kill("scheduler-1"))
    shop.cluster.start_scheduler("scheduler-3", env=shop.env)
    disruptions.append(await shop.restart("rasa-2"))
    await traffic
    return disruptions


def run_customers(
    shop: Shop, balancer: Balancer, customers: Customers, campaign_id: int
) -> list[audit.Disruption]:
    async def everything() -> list[audit.Disruption]:
        try:
            return await play(shop, balancer, customers, campaign_id)
        finally:
            await balancer.close()

    return asyncio.run(everything())


def test_two_of_every_process_lose_nothing_repeat_nothing_and_keep_the_limits(
    postgres_url: str,
    empty_postgres_url: str,
    fake_telegram: FakeTelegram,
    fake_twilio: FakeTwilio,
    tmp_path: Path,
) -> None:
    began = time.monotonic()
    shoppers = populate(postgres_url)
    redis_prefix = f"scale{uuid.uuid4().hex[:12]}"  # Rasa takes letters and digits only
    public_url = f"http://127.0.0.1:{free_port()}"  # the balancer, as the providers know it
    env = shop_environment(
        database_url=postgres_url,
        public_url=public_url,
        telegram=fake_telegram,
        twilio=fake_twilio,
        limits=LIMITS,
        redis_prefix=redis_prefix,
    )
    with ExitStack() as stack:
        shop = Shop(Cluster(tmp_path, stack), env, stack)
        shop.start(tracker_url=empty_postgres_url)
        ready_in = time.monotonic() - began
        balancer = Balancer(list(shop.gateways.values()), public_url)
        customers = Customers(balancer, shoppers, seed=SEED)
        campaign_id = launch_campaign(postgres_url)
        campaign_began = time.monotonic()
        disruptions = run_customers(shop, balancer, customers, campaign_id)
        wait_while_progressing(
            shop.settled, shop.progress, stall=STALL_SECONDS, what="every message sent and answered"
        )
        finished_in = time.monotonic() - campaign_began
        dead = shop.died_on_their_own()
        found = report.examine(
            shop.store,
            tracker_url=empty_postgres_url,
            posted=customers.posted,
            campaign_id=campaign_id,
            telegram=fake_telegram,
            twilio=fake_twilio,
            disruptions=disruptions,
            logs={name: service.log for name, service in shop.cluster.services.items()},
        )
    figures = found.figures
    figures.add("customers", len(shoppers))
    figures.add("gateways", len(shop.gateways))
    figures.add("webhooks re-delivered", balancer.redeliveries)
    figures.add("Telegram limit", LIMITS.telegram_per_second)
    figures.add("Twilio limit", LIMITS.twilio_segments_per_second)
    figures.add("seconds to start", round(ready_in))
    figures.add("seconds for campaign and customers", round(finished_in))
    figures.add("seconds in all", round(time.monotonic() - began))
    print(report.summary(figures, disruptions, found.tracebacks))

    assert not dead, f"processes that died on their own: {dead}"
    for kind, problems in found.problems.items():
        assert not problems, f"{kind}: {len(problems)} problems, e.g.\n" + "\n".join(problems[:20])
    assert figures["campaign sent"] == RECIPIENTS
    assert figures["deadlocks"] == 0
    assert figures["Telegram peak"] <= LIMITS.telegram_per_second
    assert figures["Twilio peak"] <= LIMITS.twilio_segments_per_second
    assert figures["chat peak"] <= 3, "Telegram takes about one message a second to a chat"
