"""A campaign's template variants: up to four versions of its message, for an A/B test.

A campaign's `templates` map a language code to one template text or, for an A/B test,
to a list of them: the first in each language is variant A, the second B, and so on.
Every language lists the same number, since a variant is one message written in each
language. When the campaign starts, its recipients are split between the variants at
random (`crm_store.holdouts.assign_variants`), and the report compares each variant with
the holdout and with each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MAX_VARIANTS = 4
LABELS = "ABCD"

# A campaign's templates as stored: language → one text, or a list of variant texts.
Templates = Mapping[str, str | Sequence[str]]


def variants(templates: Templates) -> list[dict[str, str]]:
    """The campaign's variants in order, each {language: text}; one when it has no A/B.

    Raises:
        ValueError: when a language lists no text, a text is not a string, the languages
            list different numbers of variants, or there are more than four.
    """
    by_language: dict[str, list[str]] = {}
    for language, given in templates.items():
        texts = [given] if isinstance(given, str) else list(given)
        if not texts:
            raise ValueError(f"{language}: no template text")
        if not all(isinstance(text, str) for text in texts):
            raise ValueError(f"{language}: a template is text")
        by_language[language] = texts
    counts = {len(texts) for texts in by_language.values()}
    if len(counts) > 1:
        listed = ", ".join(f"{language} {len(texts)}" for language, texts in by_language.items())
        raise ValueError(
            f"give the same number of variants in every language (a variant is one message"
            f" in each language), not {listed}"
        )
    count = counts.pop() if counts else 1
    if count > MAX_VARIANTS:
        raise ValueError(f"at most {MAX_VARIANTS} variants, not {count}")
    return [
        {language: texts[index] for language, texts in by_language.items()}
        for index in range(count if by_language else 0)
    ]


def stored(chosen: Sequence[Mapping[str, str]]) -> dict[str, str | list[str]]:
    """`variants` as a campaign keeps them: a text per language for one variant, a list
    per language for several."""
    if len(chosen) == 1:
        return dict(chosen[0])
    return {language: [variant[language] for variant in chosen] for language in chosen[0]}


def label(index: int) -> str:
    """Variant 0 is A, 1 is B, and so on."""
    return LABELS[index]
