"""Phone numbers, normalised to E.164 with the phonenumbers library."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

# Separators people type inside a number; anything else goes through the full parser.
_SEPARATORS = str.maketrans("", "", " -().\u00a0")


class InvalidPhoneNumber(ValueError):
    """A phone number that cannot be parsed or is not a valid number."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"invalid phone number {raw!r}: {reason}")
        self.raw = raw
        self.reason = reason


@lru_cache(maxsize=64)
def _plain_national_prefix(region: str) -> tuple[str, int] | None:
    """The region's national prefix and country code, when stripping the prefix is all
    that parsing a national number does there (true of TW, GB, US; not of JP or CN)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or not metadata.national_prefix or metadata.country_code is None:
        return None
    if metadata.national_prefix_for_parsing not in (None, metadata.national_prefix):
        return None
    if metadata.national_prefix_transform_rule is not None:
        return None
    return metadata.national_prefix, metadata.country_code


# The number types `phonenumbers.is_valid_number_for_region` tries, in its own order.
_NUMBER_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)

_LengthsAndPattern = tuple[frozenset[int], re.Pattern[str]]


@lru_cache(maxsize=64)
def _validity_patterns(region: str) -> tuple[_LengthsAndPattern, tuple[_LengthsAndPattern, ...]]:
    """The region's general pattern and one pattern a number type, compiled once.

    `is_valid_number_for_region` looks each pattern up by its text, for every type, on
    every call: over half of a bulk import's time. A number is valid when it matches the
    general description and any one type; mobiles come first as the likeliest."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    assert metadata is not None and metadata.general_desc is not None

    def compiled(desc: phonenumbers.PhoneNumberDesc) -> _LengthsAndPattern:
        return frozenset(desc.possible_length), re.compile(desc.national_number_pattern or "")

    names = reversed(_NUMBER_TYPES)
    if metadata.same_mobile_and_fixed_line_pattern:  # the library then skips mobile
        names = (name for name in names if name != "mobile")
    descs = [getattr(metadata, name) for name in names]
    return compiled(metadata.general_desc), tuple(
        compiled(desc) for desc in descs if desc is not None and desc.national_number_pattern
    )


def _is_valid_national(national: str, region: str) -> bool:
    """`is_valid_number_for_region` for a national significant number of `region`."""
    (general_lengths, general), types = _validity_patterns(region)
    if general_lengths and len(national) not in general_lengths:
        return False
    if general.fullmatch(national) is None:
        return False
    return any(
        (not lengths or len(national) in lengths) and pattern.fullmatch(national) is not None
        for lengths, pattern in types
    )


def normalize_phone(raw: str, region: str) -> str:
    """The E.164 form of `raw` (``0912 345 678`` in TW → ``+886912345678``).

    A number written nationally with the usual prefix skips the general parser (which
    costs most of a bulk import's time) and only has its validity checked; everything
    else is parsed in full. Both paths agree (see tests/crm_store/test_phones.py).

    Raises:
        InvalidPhoneNumber: when the text is not a valid number for `region`
            (or in international form).
    """
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber(raw, "empty")
    plain = _plain_national_prefix(region)
    digits = text.translate(_SEPARATORS)
    if plain is not None and digits.isascii() and digits.isdigit():
        prefix, country_code = plain
        national = digits[len(prefix) :]
        if (
            digits.startswith(prefix)
            and national[:1] not in ("", "0")
            and _is_valid_national(national, region)
        ):
            return f"+{country_code}{national}"
    return _parse_in_full(raw, text, region)


def _parse_in_full(raw: str, text: str, region: str) -> str:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhoneNumber(raw, str(error)) from error
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(raw, f"not a valid number (default region {region})")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
