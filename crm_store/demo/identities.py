"""Customers' Telegram and SMS identities: mobile numbers, chat ids, consent, opt-outs.

Mobile numbers are drawn from each region's mobile plan, checked with
`normalize_phone` in the demo's region and stored in E.164; numbers and chat ids are
unique across the shop.
"""

from __future__ import annotations

import string
from collections.abc import Callable

import phonenumbers

from crm_store.demo.context import Demo
from crm_store.models import Channel, ChannelIdentity, Customer, Language
from crm_store.phones import InvalidPhoneNumber, normalize_phone

_ZONE_REGION = {"America/Los_Angeles": "US", "Europe/London": "GB", "Asia/Tokyo": "JP"}

# National significant number: (leading digits to pick from, total length).
_MOBILE_PLANS = {
    "TW": (tuple(f"9{digit}" for digit in range(9)), 9),
    "US": (("213", "310", "323", "424", "626", "818"), 10),
    "GB": (("74", "75", "77", "78", "79"), 10),
    "JP": (("70", "80", "90"), 10),
}
_MOBILE_TYPES = (
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
)

_UNREACHABLE_REASONS = {
    Channel.SMS: (
        "Twilio 30003: unreachable destination handset",
        "Twilio 30005: unknown destination handset",
    ),
    Channel.TELEGRAM: ("Telegram 403: bot was blocked by the user",),
}


class IdentityMaker:
    """Gives customers channel identities, never the same address twice."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.used_addresses: dict[Channel, set[str]] = {Channel.SMS: set(), Channel.TELEGRAM: set()}

    def add(self, customer: Customer, *, abroad: bool, opted_out: bool) -> None:
        """Give `customer` an SMS number, a Telegram chat or both, with one consent answer."""
        rng = self.demo.rng
        local_region = _ZONE_REGION.get(customer.timezone)
        phone: str | None = None
        if abroad and local_region is not None:
            draw = rng.random()
            if draw < 0.6:
                phone = self._mobile(local_region)
            elif draw < 0.9:
                phone = self._mobile(self.demo.region)
        elif rng.random() < 0.92:
            phone = self._mobile(self.demo.region)
        wants_telegram = rng.random() < (0.5 if customer.language is Language.ZH_TW else 0.7)
        if phone is not None:
            customer.identities.append(self._identity(Channel.SMS, phone, None))
        if wants_telegram or phone is None:
            chat_id = self._unique(Channel.TELEGRAM, lambda: str(rng.randint(10**8, 8 * 10**9)))
            display = (
                customer.name.split(" ")[0]
                if customer.language is Language.EN
                else (customer.name[1:] if len(customer.name) > 2 else customer.name)
            )
            customer.identities.append(self._identity(Channel.TELEGRAM, chat_id, display))
        consent = rng.random() < 0.85
        for identity in customer.identities:
            identity.marketing_consent = consent and not opted_out
            if opted_out:
                identity.opted_out = True

    def _identity(
        self, channel: Channel, address: str, display_name: str | None
    ) -> ChannelIdentity:
        return ChannelIdentity(
            channel=channel,
            address=address,
            display_name=display_name,
            marketing_consent=False,
            opted_out=False,
            reachable=True,
        )

    def _unique(self, channel: Channel, make: Callable[[], str]) -> str:
        used = self.used_addresses[channel]
        while True:
            value = make()
            if value not in used:
                used.add(value)
                return value

    def _mobile(self, region: str) -> str:
        prefixes, length = self._mobile_plan(region)
        country_code = phonenumbers.country_code_for_region(region)
        rng = self.demo.rng

        def make() -> str:
            for _ in range(200):
                prefix = rng.choice(prefixes)
                nsn = prefix + "".join(
                    rng.choice(string.digits) for _ in range(length - len(prefix))
                )
                raw = f"+{country_code}{nsn}"
                if phonenumbers.number_type(phonenumbers.parse(raw)) not in _MOBILE_TYPES:
                    continue
                try:
                    return normalize_phone(raw, self.demo.region)
                except InvalidPhoneNumber:
                    continue
            raise ValueError(f"cannot make valid mobile numbers for region {region!r}")

        return self._unique(Channel.SMS, make)

    @staticmethod
    def _mobile_plan(region: str) -> tuple[tuple[str, ...], int]:
        plan = _MOBILE_PLANS.get(region)
        if plan is not None:
            return plan
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if example is None:
            raise ValueError(f"cannot make valid mobile numbers for region {region!r}")
        nsn = str(phonenumbers.national_significant_number(example))
        return (nsn[:2],), len(nsn)

    def make_unreachable(self, customer: Customer) -> None:
        """Mark one of the customer's identities as failing, with the provider's reason."""
        identity = self.demo.rng.choice(customer.identities)
        identity.reachable = False
        identity.unreachable_reason = self.demo.rng.choice(_UNREACHABLE_REASONS[identity.channel])
