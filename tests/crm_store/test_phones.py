import random

import phonenumbers
import pytest

from crm_store.phones import (
    InvalidPhoneNumber,
    _is_valid_national,
    _parse_in_full,
    normalize_phone,
)


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


def test_validity_check_agrees_with_the_library_in_every_region() -> None:
    """Each type's example number, and random numbers of the region's lengths."""
    rng = random.Random(86)
    checked = valid = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        examples = (
            phonenumbers.example_number_for_type(region, number_type)
            for number_type in phonenumbers.PhoneNumberType.values()
        )
        samples = {
            phonenumbers.national_significant_number(example)
            for example in examples
            if example is not None
        }
        lengths = [length for length in metadata.general_desc.possible_length if length > 0]
        samples.update(
            str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(length - 1))
            for length in lengths
            for _ in range(40)
        )
        for national in sorted(samples):
            if national.startswith("0"):
                continue  # not the fast path's case: it keeps the prefix's zero out
            number = phonenumbers.PhoneNumber(
                country_code=metadata.country_code, national_number=int(national)
            )
            expected = phonenumbers.is_valid_number_for_region(number, region)
            assert _is_valid_national(national, region) == expected, (region, national)
            checked += 1
            valid += expected
    assert checked > 10_000 and valid > 1_000
