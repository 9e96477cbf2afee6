"""The one settings class, read from the environment and an optional `.env`.

Every process gets a `Settings` instance handed to it; no other module reads a setting
from `os.environ`. The environment is only passed on whole to child processes
(`crmbot.procfile`, `crmbot train`), and `channels.senders` sets one switch in it for
python-telegram-bot.
"""

from __future__ import annotations

from datetime import time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_store.business_hours import BusinessHours, InvalidBusinessHours
from crm_store.sending_rules import SendingPolicy
from crm_store.tw_sms_rules import TaiwanSms

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"
DEVELOPMENT_SECRET = "development-only-secret-change-me"


class Settings(BaseSettings):
    """Configuration of every process; see the README's configuration table."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    database_url: str = Field(default_factory=lambda: f"sqlite:///{VAR_DIR / 'crmbot.db'}")
    rasa_url: str = "http://127.0.0.1:5005"
    # Rasa's tracker store; unset, it follows DATABASE_URL (see crmbot/rasa_endpoints.py).
    rasa_tracker_url: str | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    gateway_port: int = 8000
    rasa_port: int = 5005
    action_server_port: int = 5055

    shop_name: str = "Demo Shop"

    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    # "auto": a webhook when PUBLIC_BASE_URL is a public https address, else long polling.
    telegram_mode: Literal["auto", "webhook", "polling"] = "auto"
    telegram_messages_per_second: float = Field(default=30, gt=0)

    # A LINE Official Account (Messaging API channel): the secret signs webhooks, the
    # long-lived access token sends. Replies are free; pushes count against the plan's
    # monthly messages (Taiwan's plans: 200, 3,000 or 6,000).
    line_channel_secret: SecretStr | None = None
    line_channel_access_token: SecretStr | None = None
    line_api_base_url: str = "https://api.line.me"
    line_monthly_quota: int = Field(default=200, ge=0)

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    # Segments per second per sending number (a US long code allows 1, a short code 100).
    twilio_segments_per_second: float = Field(default=10, gt=0)

    # Taiwanese numbers (+886) go through Mitake (三竹) when its account is set.
    mitake_username: str | None = None
    mitake_password: SecretStr | None = None
    mitake_api_url: str = "https://smsapi.mitake.com.tw/api/mtk/SmSend?CharsetURL=UTF-8"
    # The secret in the delivery-report address given to Mitake, which does not sign.
    mitake_callback_token: SecretStr | None = None
    # Whether Taiwanese customers' SMS replies reach us (Mitake's accounts: one-way).
    tw_sms_two_way: bool = False
    # Links and phone numbers registered for promotional SMS, comma-separated.
    sms_allowed_links: str = ""
    # The shop's LINE ID (e.g. @myshop): where one-way SMS tell customers to answer.
    shop_line_id: str | None = None

    # The gateway waits this long after a customer's message for more before answering,
    # so several quick messages get one reply (step 1: listen without interrupting).
    burst_window_seconds: float = Field(default=1.0, ge=0)
    # A customer waiting longer than this for the bot gets one short holding reply.
    holding_reply_after_seconds: float = Field(default=5.0, gt=0)
    # A message the bot has not answered after this long (Rasa down or timing out on it)
    # goes to staff with an apology: nobody who wrote is left waiting on a broken bot.
    bot_answer_deadline_seconds: float = Field(default=300.0, gt=0)
    rasa_timeout_seconds: float = Field(default=30.0, gt=0)
    # How often a failed send is retried (with backoff) before it counts as failed.
    send_max_attempts: int = Field(default=8, ge=1)
    # A message claimed this long ago by a dispatcher that never finished is tried again
    # (after asking the provider, where it can tell, whether it went out).
    send_lease_seconds: int = Field(default=300, ge=1)
    # How often the scheduler plans (birthdays, surveys, win-back, campaigns).
    scheduler_plan_seconds: float = Field(default=60, gt=0)

    # Outreach. Unsolicited messages wait out each customer's quiet hours (their zone).
    quiet_hours: str = "21:00-09:00"
    marketing_per_week: int = Field(default=2, ge=0)
    birthday_hour: int = Field(default=10, ge=0, le=23)
    survey_reminder_after_hours: int = Field(default=48, ge=1)
    winback_after_days: int = Field(default=120, ge=1)
    winback_every_days: int = Field(default=180, ge=1)
    # The share of the built-in outreach held out and sent nothing, to measure it against.
    winback_holdout_percent: int = Field(default=10, ge=0, le=50)
    birthday_holdout_percent: int = Field(default=0, ge=0, le=50)
    # Without REDIS_URL: the scheduler sends campaign traffic at this share of each
    # provider's limit; the rest is kept for the gateway's replies (so it must leave some).
    campaign_rate_share: float = Field(default=0.8, gt=0, lt=1)
    # With it, every gateway and scheduler shares one limit per provider in this Redis,
    # replies first, under keys starting with REDIS_KEY_PREFIX.
    redis_url: str | None = None
    redis_key_prefix: str = "crmbot"
    # Whether the gateway also sends surveys, campaigns and notices (when no scheduler runs).
    gateway_sends_everything: bool = False

    default_region: str = "TW"
    default_timezone: str = "Asia/Taipei"
    console_secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    # When staff answer, in DEFAULT_TIMEZONE; e.g. "mon-fri 09:00-18:00; sat 10:00-14:00".
    business_hours: str = "mon-fri 09:00-18:00"
    # What a customer handed to staff during business hours is told to expect.
    handoff_wait_minutes: int = Field(default=15, ge=1)
    # A handoff nobody claims within this long goes back to the bot with a due time.
    handoff_claim_timeout_minutes: int = Field(default=10, ge=1)

    @property
    def gateway_rate_share(self) -> float:
        """The part of each provider's limit the gateway sends at: all of it when it
        sends everything, else what the campaign share leaves, so that the gateway and
        the scheduler together keep within the limit."""
        return 1.0 if self.gateway_sends_everything else 1.0 - self.campaign_rate_share

    @property
    def telegram_uses_webhook(self) -> bool:
        """Telegram can only reach a webhook at a public https address."""
        if self.telegram_mode != "auto":
            return self.telegram_mode == "webhook"
        url = urlsplit(self.public_base_url)
        return url.scheme == "https" and url.hostname not in {"localhost", "127.0.0.1", "::1"}

    @property
    def sending_policy(self) -> SendingPolicy:
        start, end = (time.fromisoformat(part) for part in self.quiet_hours.split("-"))
        return SendingPolicy(
            quiet_start=start,
            quiet_end=end,
            marketing_per_window=self.marketing_per_week,
            frequency_window=timedelta(days=7),
            # Taiwan's rules come with a Taiwanese provider; without one, +886 numbers
            # go through Twilio as they always have.
            taiwan=self.taiwan_sms if self.mitake_username else None,
        )

    @property
    def taiwan_sms(self) -> TaiwanSms:
        return TaiwanSms(
            shop_name=self.shop_name,
            allowed_links=tuple(
                link.strip() for link in self.sms_allowed_links.split(",") if link.strip()
            ),
            line_id=self.shop_line_id,
            two_way=self.tw_sms_two_way,
        )

    @field_validator("quiet_hours")
    @classmethod
    def _readable_quiet_hours(cls, value: str) -> str:
        try:
            start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
        except ValueError as error:
            raise ValueError(f"QUIET_HOURS {value!r}: write e.g. 21:00-09:00") from error
        return f"{start:%H:%M}-{end:%H:%M}"

    @property
    def opening_hours(self) -> BusinessHours:
        return BusinessHours.parse(self.business_hours, self.default_timezone)

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {value!r}; use an ISO 3166 code such as TW")
        return region

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name") from error
        return value

    @model_validator(mode="after")
    def _readable_business_hours(self) -> Settings:
        try:
            BusinessHours.parse(self.business_hours, self.default_timezone)
        except InvalidBusinessHours as error:
            raise ValueError(f"BUSINESS_HOURS: {error}") from error
        return self

    @model_validator(mode="after")
    def _no_placeholder_secret_in_production(self) -> Settings:
        if (
            self.environment == "production"
            and self.console_secret_key.get_secret_value() == DEVELOPMENT_SECRET
        ):
            raise ValueError("CONSOLE_SECRET_KEY must be set to a real secret in production")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
