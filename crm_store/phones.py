"""Phone numbers, normalised to E.164 with the phonenumbers library."""

from __future__ import annotations

import phonenumbers


class InvalidPhoneNumber(ValueError):
    """A phone number that cannot be parsed or is not a valid number."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"invalid phone number {raw!r}: {reason}")
        self.raw = raw
        self.reason = reason


def normalize_phone(raw: str, region: str) -> str:
    """The E.164 form of `raw` (``0912 345 678`` in TW → ``+886912345678``).

    Raises:
        InvalidPhoneNumber: when the text is not a valid number for `region`
            (or in international form).
    """
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber(raw, "empty")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhoneNumber(raw, str(error)) from error
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(raw, f"not a valid number (default region {region})")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
