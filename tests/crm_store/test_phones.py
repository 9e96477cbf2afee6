import random

import phonenumbers
import pytest

from crm_store.phones import InvalidPhoneNumber, _parse_in_full, normalize_phone


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("0912345678", "TW", "+886912345678"),
        ("0912-345-678", "TW", "+886912345678"),
        ("(02) 2345-6789", "TW", "+886223456789"),
        ("+886 912 345 678", "TW", "+886912345678"),
        ("+1 415 555 2671", "TW", "+14155552671"),
        ("07400 123456", "GB", "+447400123456"),
        ("090-1234-5678", "JP", "+819012345678"),
        ("１２３", "TW", None),
        ("0912", "TW", None),
        ("09123456789012", "TW", None),
        ("hello", "TW", None),
        ("", "TW", None),
    ],
)
def test_normalize_phone(raw: str, region: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(InvalidPhoneNumber):
            normalize_phone(raw, region)
    else:
        assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize("region", ["TW", "GB", "US", "JP", "CN", "HK", "DE"])
def test_fast_path_agrees_with_the_full_parser(region: str) -> None:
    """Random national-looking numbers: both paths accept the same ones, identically."""
    rng = random.Random(region)
    prefix = phonenumbers.PhoneMetadata.metadata_for_region(region).national_prefix or ""
    samples = [
        prefix + "".join(rng.choice("0123456789") for _ in range(rng.randint(6, 11)))
        for _ in range(3_000)
    ]
    examples = phonenumbers.example_number(region)
    if examples is not None:
        national = phonenumbers.format_number(examples, phonenumbers.PhoneNumberFormat.NATIONAL)
        samples.append(national)
    valid = 0
    for raw in samples:
        try:
            expected: str | None = _parse_in_full(raw, raw, region)
        except InvalidPhoneNumber:
            expected = None
        try:
            got: str | None = normalize_phone(raw, region)
        except InvalidPhoneNumber:
            got = None
        assert got == expected, raw
        valid += expected is not None
    assert valid > 0
