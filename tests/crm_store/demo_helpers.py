"""The clock the demo shop tests load it at."""

from datetime import UTC, datetime

# 16:30 UTC: already 16 March in Taipei and Tokyo, still 15 March in London and Los Angeles.
NOW = datetime(2026, 3, 15, 16, 30, tzinfo=UTC)
