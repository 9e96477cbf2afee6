"""What a marketer sees before approving a campaign: the audience's make-up and samples.

Also the campaign's message templates: which one a recipient gets, and whether a set
of them (with its A/B variants, `crm_store.variants`) can be sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import Channel, Customer, Language
from crm_store.segments.audiences import Recipient, audience
from crm_store.segments.definition import Segment, _names
from crm_store.templates import InvalidTemplate, check, context_for, render
from crm_store.variants import Templates, label, variants


@dataclass(frozen=True, slots=True)
class Sample:
    """One message as a recipient would get it."""

    customer_name: str
    language: Language
    channel: Channel
    text: str
    variant: str = ""  # "A", "B", … for a campaign with variants


@dataclass(frozen=True, slots=True)
class Preview:
    """What a marketer sees before approving a campaign."""

    size: int
    by_language: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)


def template_for(templates: Mapping[str, str], language: Language) -> str:
    """The template in `language`, or else the one in the other language.

    Raises:
        ValueError: when `templates` holds no template at all.
    """
    text = templates.get(language.value)
    if text:
        return text
    for other in Language:
        if templates.get(other.value):
            return templates[other.value]
    raise ValueError("the campaign has no message template")


def check_templates(templates: Templates) -> None:
    """Raise ValueError (InvalidTemplate for a bad text) unless `templates` can be sent.

    Keys are language codes, each to a text or a list of variant texts; at least one
    template is needed.
    """
    unknown = sorted(set(templates) - {language.value for language in Language})
    if unknown:
        raise ValueError(
            f"template for unknown language {', '.join(map(repr, unknown))}; "
            f"allowed: {_names(Language)}"
        )
    chosen = variants(templates)
    if not any(text for variant in chosen for text in variant.values()):
        raise ValueError("the campaign has no message template")
    for index, variant in enumerate(chosen):
        named = f" (variant {label(index)})" if len(chosen) > 1 else ""
        for language, text in variant.items():
            try:
                check(text)
            except InvalidTemplate as error:
                raise InvalidTemplate(f"{language} template{named}: {error}") from error


def _pick_samples(recipients: Sequence[Recipient], count: int) -> list[Recipient]:
    """`count` recipients in id order, with every language present shown at least once."""
    chosen: dict[int, Recipient] = {}
    seen_languages: set[Language] = set()
    for recipient in recipients:
        if len(chosen) >= count or len(seen_languages) == len(Language):
            break
        if recipient.language not in seen_languages:
            seen_languages.add(recipient.language)
            chosen[recipient.customer_id] = recipient
    for recipient in recipients:
        if len(chosen) >= count:
            break
        chosen.setdefault(recipient.customer_id, recipient)
    return sorted(chosen.values(), key=lambda recipient: recipient.customer_id)


def preview(
    session: Session,
    segment: Segment,
    templates: Templates,
    *,
    now: datetime,
    shop: str,
    samples: int = 3,
    marketing: bool = True,
    coupon: str | None = None,
) -> Preview:
    """The audience's size and make-up, and a few messages rendered as they would be sent.

    `templates` maps language codes to template texts (or lists of variant texts: each
    sample is then shown in every variant); `coupon` stands in for the codes a campaign
    issues per recipient.

    Raises:
        InvalidTemplate: when a template is bad or fails for a sampled customer.
        ValueError: when there is no template or one for an unknown language.
    """
    check_templates(templates)
    recipients = audience(session, segment, now=now, marketing=marketing)
    by_language: dict[str, int] = {}
    by_channel: dict[str, int] = {}
    for recipient in recipients:
        by_language[recipient.language.value] = by_language.get(recipient.language.value, 0) + 1
        by_channel[recipient.channel.value] = by_channel.get(recipient.channel.value, 0) + 1
    picked = _pick_samples(recipients, samples)
    customers = {
        customer.id: customer
        for customer in session.scalars(
            select(Customer).where(Customer.id.in_([r.customer_id for r in picked]))
        )
    }
    chosen = variants(templates)
    rendered = []
    for recipient in picked:
        customer = customers[recipient.customer_id]
        fields = context_for(customer, shop=shop, coupon=coupon)
        for index, variant in enumerate(chosen):
            text = render(template_for(variant, recipient.language), fields)
            named = label(index) if len(chosen) > 1 else ""
            rendered.append(
                Sample(customer.name, recipient.language, recipient.channel, text, named)
            )
    return Preview(
        size=len(recipients), by_language=by_language, by_channel=by_channel, samples=rendered
    )
