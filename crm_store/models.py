"""The customer store's tables, as SQLAlchemy 2 typed models.

Every schema change comes with a reviewed Alembic revision in `migrations/versions`.
Times are stored in UTC and always come back time-zone aware (`UTCDateTime`).
Enumerations are stored as short strings so that adding a value needs no
database-specific type change.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that always loads time-zone aware.

    SQLite keeps no offset, so naive values read back are UTC by construction.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}; store times as aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def str_enum(enum_class: type[enum.StrEnum], length: int = 24) -> Enum:
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        validate_strings=True,
        length=length,
        values_callable=lambda members: [member.value for member in members],
    )


Money = Numeric(12, 2)

DEFAULT_HOLDOUT_PERCENT = 10
DEFAULT_CONVERSION_DAYS = 14


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
    }


# --- enumerations -------------------------------------------------------------------


class Language(enum.StrEnum):
    ZH_TW = "zh-TW"
    EN = "en"


class Tier(enum.StrEnum):
    STANDARD = "standard"
    SILVER = "silver"
    GOLD = "gold"
    VIP = "vip"


class Channel(enum.StrEnum):
    TELEGRAM = "telegram"
    SMS = "sms"
    WEBCHAT = "webchat"
    LINE = "line"


class OrderStatus(enum.StrEnum):
    PLACED = "placed"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"


class ConversationMode(enum.StrEnum):
    BOT = "bot"
    HUMAN = "human"


class Direction(enum.StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


class Author(enum.StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class DeliveryStatus(enum.StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class ComplaintCategory(enum.StrEnum):
    ORDER = "order"
    DELIVERY = "delivery"
    QUALITY = "quality"
    BILLING = "billing"
    STAFF = "staff"
    OTHER = "other"


class TicketStatus(enum.StrEnum):
    OPEN = "open"
    HANDED_OFF = "handed_off"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    CLOSED = "closed"


class RecoveryStep(enum.IntEnum):
    """The eight steps of the service-recovery script (see DESIGN.md)."""

    EMPATHISE = 1
    THANK = 2
    APOLOGISE = 3
    FIND_OUT_WANTS = 4
    SOLVE = 5
    COMPENSATE = 6
    FOLLOW_UP = 7
    PREVENT = 8


class DesiredOutcome(enum.StrEnum):
    REFUND = "refund"
    REPLACEMENT = "replacement"
    REPAIR = "repair"
    EXPLANATION = "explanation"
    OTHER = "other"


class HandoffReason(enum.StrEnum):
    ASKED_FOR_PERSON = "asked_for_person"
    REPEATED_FALLBACK = "repeated_fallback"
    ANGER_OR_THREAT = "anger_or_threat"
    VIP_COMPLAINT = "vip_complaint"
    COMPENSATION_BEYOND_AUTHORITY = "compensation_beyond_authority"
    REPEAT_COMPLAINT = "repeat_complaint"
    LOW_SATISFACTION = "low_satisfaction"
    BOT_FAILURE = "bot_failure"
    OTHER = "other"


class HandoffStatus(enum.StrEnum):
    WAITING = "waiting"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    RETURNED_TO_BOT = "returned_to_bot"


class StaffRole(enum.StrEnum):
    AGENT = "agent"
    MARKETER = "marketer"
    ADMIN = "admin"


class CampaignKind(enum.StrEnum):
    BIRTHDAY = "birthday"
    SURVEY = "survey"
    WINBACK = "winback"
    CUSTOM = "custom"


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"


class MessagePurpose(enum.StrEnum):
    """Why a message is sent; decides consent rules and dispatch priority."""

    REPLY = "reply"
    TRANSACTIONAL = "transactional"
    SURVEY = "survey"
    MARKETING = "marketing"
    # Confirmations of STOP / START / HELP, which carriers require even to opted-out numbers.
    COMPLIANCE = "compliance"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class CouponPurpose(enum.StrEnum):
    BIRTHDAY = "birthday"
    WINBACK = "winback"
    COMPLAINT = "complaint"


class SurveyStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    REMINDED = "reminded"
    ANSWERED = "answered"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


# --- customers and their channels ---------------------------------------------------


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    birthday: Mapped[date | None] = mapped_column(Date)
    # Month and day of the birthday, kept beside it so "whose birthday is today" is an
    # index look-up instead of a scan of every customer.
    birth_month: Mapped[int | None] = mapped_column(SmallInteger)
    birth_day: Mapped[int | None] = mapped_column(SmallInteger)
    language: Mapped[Language] = mapped_column(str_enum(Language, 8), default=Language.ZH_TW)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Taipei")
    tier: Mapped[Tier] = mapped_column(str_enum(Tier, 16), default=Tier.STANDARD)
    notes: Mapped[str | None] = mapped_column(Text)
    # Order totals kept on the customer by `orders.record_order`, so that win-back and
    # RFM over a million customers need no aggregate over every order.
    first_order_at: Mapped[datetime | None]
    last_order_at: Mapped[datetime | None]
    order_count: Mapped[int] = mapped_column(Integer, default=0)
    total_spent: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    erased_at: Mapped[datetime | None]

    identities: Mapped[list[ChannelIdentity]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )
    tags: Mapped[list[CustomerTag]] = relationship(cascade="all, delete-orphan")
    orders: Mapped[list[Order]] = relationship(back_populates="customer")

    __table_args__ = (
        Index("ix_customers_birth_month_day", "birth_month", "birth_day"),
        # Covers the win-back query: the date range and the ranking come from the index
        # alone, and only the chosen customers' rows are read.
        Index("ix_customers_winback", "last_order_at", "total_spent", "order_count", "erased_at"),
    )

    def set_birthday(self, birthday: date | None) -> None:
        self.birthday = birthday
        self.birth_month = birthday.month if birthday else None
        self.birth_day = birthday.day if birthday else None


class CustomerTag(Base):
    __tablename__ = "customer_tags"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class ChannelIdentity(Base):
    """One way to reach a customer: a Telegram chat or a phone number (E.164)."""

    __tablename__ = "channel_identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, 16))
    address: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(200))
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_changed_at: Mapped[datetime | None]
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[datetime | None]
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    unreachable_reason: Mapped[str | None] = mapped_column(String(200))
    last_seen_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="identities")

    __table_args__ = (UniqueConstraint("channel", "address"),)

    @property
    def may_receive_marketing(self) -> bool:
        return self.reachable and not self.opted_out and self.marketing_consent

    @property
    def may_receive_service(self) -> bool:
        return self.reachable and not self.opted_out


class LineReplyToken(Base):
    """A LINE user's newest reply token, until a reply uses it (replies cost no quota).

    In the store rather than a gateway's memory: the reply may go out from another
    gateway or the scheduler, and whoever sends takes the token by deleting its row, so
    it is used once whatever the number of processes.
    """

    __tablename__ = "line_reply_tokens"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime]


class LinkCode(Base):
    """A one-time code sent by SMS to a known phone, which a chat writes back to prove
    the phone is theirs (see `crm_store.link_codes`); a chat's newest is the live one,
    the others are kept for a day to count the codes each phone was sent."""

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_identity_id: Mapped[int] = mapped_column(
        ForeignKey("channel_identities.id", ondelete="CASCADE"), index=True
    )
    phone_identity_id: Mapped[int] = mapped_column(
        ForeignKey("channel_identities.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(6))
    issued_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class LinePushCount(Base):
    """The pushes sent over LINE in a month, which the plan's quota counts."""

    __tablename__ = "line_push_counts"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026-12"
    pushes: Mapped[int] = mapped_column(Integer, default=0)


# --- catalogue and orders -----------------------------------------------------------


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    price: Mapped[Decimal] = mapped_column(Money)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus, 16))
    total: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="TWD")
    placed_at: Mapped[datetime]
    shipped_at: Mapped[datetime | None]
    expected_delivery: Mapped[date | None] = mapped_column(Date)
    delivered_at: Mapped[datetime | None]
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    shipping_address: Mapped[str | None] = mapped_column(Text)

    customer: Mapped[Customer] = relationship(back_populates="orders")
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan"
    )

    __table_args__ = (Index("ix_orders_customer_id_placed_at", "customer_id", "placed_at"),)


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_price: Mapped[Decimal] = mapped_column(Money)

    order: Mapped[Order] = relationship(back_populates="items")
    product: Mapped[Product] = relationship()


# --- conversations ------------------------------------------------------------------


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("channel_identities.id"), index=True)
    mode: Mapped[ConversationMode] = mapped_column(
        str_enum(ConversationMode, 8), default=ConversationMode.BOT
    )
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    # The gateway answering the conversation right now, so that with several gateways
    # one customer's messages still reach the bot one turn at a time, in order.
    answered_by: Mapped[str | None] = mapped_column(String(96))
    answering_until: Mapped[datetime | None]

    identity: Mapped[ChannelIdentity] = relationship()
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id"
    )


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, 4))
    author: Mapped[Author] = mapped_column(str_enum(Author, 16))
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, 16))
    # Telegram update_id / message_id, Twilio MessageSid: the deduplication key.
    channel_message_id: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None]
    delivery_status: Mapped[DeliveryStatus] = mapped_column(str_enum(DeliveryStatus, 16))
    status_changed_at: Mapped[datetime | None]
    error_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set once the bot or a person has dealt with an inbound message; unhandled ones
    # are replayed after an outage.
    handled_at: Mapped[datetime | None]

    conversation: Mapped[Conversation] = relationship(back_populates="messages")

    __table_args__ = (
        UniqueConstraint("channel", "direction", "channel_message_id"),
        Index("ix_messages_conversation_id_created_at", "conversation_id", "created_at"),
    )


# --- complaints ---------------------------------------------------------------------


class Ticket(Base):
    """A complaint, with its progress through the eight recovery steps."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    category: Mapped[ComplaintCategory] = mapped_column(str_enum(ComplaintCategory, 16))
    status: Mapped[TicketStatus] = mapped_column(
        str_enum(TicketStatus, 16), default=TicketStatus.OPEN
    )
    language: Mapped[Language] = mapped_column(str_enum(Language, 8), default=Language.ZH_TW)
    severity: Mapped[int] = mapped_column(SmallInteger, default=1)
    description: Mapped[str] = mapped_column(Text, default="")
    problem_summary: Mapped[str | None] = mapped_column(Text)
    desired_outcome: Mapped[DesiredOutcome | None] = mapped_column(str_enum(DesiredOutcome, 16))
    agreed_action: Mapped[str | None] = mapped_column(Text)
    action_due: Mapped[date | None] = mapped_column(Date)
    compensation_kind: Mapped[str | None] = mapped_column(String(32))
    compensation_value: Mapped[Decimal | None] = mapped_column(Money)
    coupon_code: Mapped[str | None] = mapped_column(String(32), unique=True)
    root_cause: Mapped[str | None] = mapped_column(String(64), index=True)
    satisfaction_score: Mapped[int | None] = mapped_column(SmallInteger)
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    steps: Mapped[list[TicketStep]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="TicketStep.id"
    )
    order: Mapped[Order | None] = relationship()
    customer: Mapped[Customer] = relationship()

    @property
    def reference(self) -> str:
        """The number a customer is told, e.g. ``C-000042``."""
        return f"C-{self.id:06d}"


class TicketStep(Base):
    """One entry of a ticket's progress log: a recovery step done, when and by whom."""

    __tablename__ = "ticket_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    step: Mapped[int] = mapped_column(SmallInteger)
    done_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64), default="bot")
    note: Mapped[str | None] = mapped_column(Text)

    ticket: Mapped[Ticket] = relationship(back_populates="steps")


class Handoff(Base):
    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    reason: Mapped[HandoffReason] = mapped_column(str_enum(HandoffReason, 32))
    status: Mapped[HandoffStatus] = mapped_column(
        str_enum(HandoffStatus, 16), default=HandoffStatus.WAITING, index=True
    )
    priority: Mapped[int] = mapped_column(SmallInteger, default=0)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None]
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    claimed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)


class ConversationNote(Base):
    """An internal note by staff on a conversation; the customer never sees it."""

    __tablename__ = "conversation_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- staff --------------------------------------------------------------------------


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[StaffRole] = mapped_column(str_enum(StaffRole, 16))
    password_hash: Mapped[str] = mapped_column(String(200))
    language: Mapped[Language] = mapped_column(str_enum(Language, 8), default=Language.ZH_TW)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


# --- outreach -----------------------------------------------------------------------


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[CampaignKind] = mapped_column(str_enum(CampaignKind, 16))
    status: Mapped[CampaignStatus] = mapped_column(
        str_enum(CampaignStatus, 16), default=CampaignStatus.DRAFT
    )
    segment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    templates: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    send_at: Mapped[datetime | None]
    recurrence: Mapped[str | None] = mapped_column(String(100))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # The share of the audience drawn at the start and sent nothing, to measure against;
    # campaigns made before holdouts existed had none.
    holdout_percent: Mapped[int] = mapped_column(
        SmallInteger, default=DEFAULT_HOLDOUT_PERCENT, server_default="0"
    )
    holdout_seed: Mapped[int | None] = mapped_column(BigInteger)  # set at the first start
    # An order within this many days of the start counts as the campaign's conversion.
    conversion_days: Mapped[int] = mapped_column(
        SmallInteger, default=DEFAULT_CONVERSION_DAYS, server_default="14"
    )


class OutreachHoldout(Base):
    """A customer the built-in outreach (`kind`: birthday, winback) held out: the message
    under `key` was never sent, so what they did anyway can be measured against."""

    __tablename__ = "outreach_holdouts"
    __table_args__ = (Index("ix_outreach_holdouts_kind_held_at", "kind", "held_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    held_at: Mapped[datetime]


class CampaignHoldout(Base):
    """A customer of a campaign's audience held out of it: sent nothing, measured against."""

    __tablename__ = "campaign_holdouts"
    __table_args__ = (UniqueConstraint("campaign_id", "customer_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    held_at: Mapped[datetime]


class CampaignVariant(Base):
    """Which of an A/B campaign's template variants (0 for A, 1 for B, …) a customer got."""

    __tablename__ = "campaign_variants"
    __table_args__ = (UniqueConstraint("campaign_id", "customer_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    variant: Mapped[int] = mapped_column(SmallInteger)
    assigned_at: Mapped[datetime]


class OutboxMessage(Base):
    """A message waiting to go out; the idempotency key makes every send happen once."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, 16))
    purpose: Mapped[MessagePurpose] = mapped_column(str_enum(MessagePurpose, 16))
    # Lower goes first: replies to waiting customers before campaign traffic.
    priority: Mapped[int] = mapped_column(SmallInteger, default=100)
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None]
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    # The transcript entry this row delivers (a long text may take several rows).
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus, 16), default=OutboxStatus.PENDING
    )
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Telegram message_id or Twilio MessageSid; delivery callbacks are matched on it.
    provider_message_id: Mapped[str | None] = mapped_column(String(64), index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # When the provider reported the message delivered (Twilio status callbacks).
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_outbox_dispatch", "status", "priority", "not_before"),
        # One customer's rows go out in order: "is anything of theirs still unsent?"
        Index("ix_outbox_identity_status", "identity_id", "status"),
    )


class SatisfactionSurvey(Base):
    """A follow-up question about a resolved ticket (step 7) and its answer."""

    __tablename__ = "satisfaction_surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), unique=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[SurveyStatus] = mapped_column(
        str_enum(SurveyStatus, 16), default=SurveyStatus.SCHEDULED
    )
    due_at: Mapped[datetime] = mapped_column(index=True)
    sent_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    score: Mapped[int | None] = mapped_column(SmallInteger)
    reply_text: Mapped[str | None] = mapped_column(Text)


class Coupon(Base):
    """A coupon code given to a customer: every code issued is here, and only once."""

    __tablename__ = "coupons"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    purpose: Mapped[CouponPurpose] = mapped_column(str_enum(CouponPurpose, 16))
    value: Mapped[Decimal | None] = mapped_column(Money)
    description: Mapped[str | None] = mapped_column(Text)
    # The complaint it compensates, when it does.
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    # The message it goes out with: a planner that runs again is given the same coupon.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]


class DataRequestKind(enum.StrEnum):
    ACCESS = "access"
    CORRECTION = "correction"
    DELETION = "deletion"


class DataRequestStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"  # answered, corrected, or (a deletion) erased
    REFUSED = "refused"


class DataRequest(Base):
    """A customer's request about their personal data (個資法 Art. 3): to see it, correct
    it or delete it, waiting for staff until decided. The customer's own words stay in
    their message (`message_id`), which erasure blanks with the rest."""

    __tablename__ = "data_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    kind: Mapped[DataRequestKind] = mapped_column(str_enum(DataRequestKind, 16))
    status: Mapped[DataRequestStatus] = mapped_column(
        str_enum(DataRequestStatus, 16), default=DataRequestStatus.PENDING, index=True
    )
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str | None] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None]
