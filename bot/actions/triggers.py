"""Words that mean a person must take over at once (DESIGN.md, hand-off rules)."""

from __future__ import annotations

import re

# Lawyers, courts, the media and consumer-protection bodies, in both languages.
THREAT_MARKERS = (
    "律師",
    "告你",
    "提告",
    "法院",
    "消保官",
    "消保會",
    "消基會",
    "上新聞",
    "爆料",
    "記者",
    "投訴媒體",
    "公審",
    "1999",
)
_ENGLISH_THREATS = re.compile(
    r"\b(lawyers?|attorney|sue|suing|lawsuit|court|media|press|journalists?|news|"
    r"consumer (protection|council)|ombudsman|trading standards|bbb)\b",
    re.IGNORECASE,
)


def has_threat(text: str) -> bool:
    return any(marker in text for marker in THREAT_MARKERS) or bool(_ENGLISH_THREATS.search(text))
