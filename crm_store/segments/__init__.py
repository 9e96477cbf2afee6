"""Who a campaign goes to: a segment's filters, its audience, and a preview for marketers.

`definition` holds the segment and its JSON form, `audiences` works out in SQL whom a
segment selects and on which identity, `previews` shows a marketer the audience and
sample messages before a campaign is approved.
"""

from crm_store.reach import OUTREACH_CHANNELS
from crm_store.segments.audiences import Recipient, audience
from crm_store.segments.definition import SEGMENT_KEYS, Segment
from crm_store.segments.previews import (
    Preview,
    Sample,
    check_templates,
    preview,
    template_for,
)

__all__ = [
    "OUTREACH_CHANNELS",
    "SEGMENT_KEYS",
    "Preview",
    "Recipient",
    "Sample",
    "Segment",
    "audience",
    "check_templates",
    "preview",
    "template_for",
]
