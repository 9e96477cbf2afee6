"""Demo data: a bilingual Taiwanese lifestyle and home-goods online shop.

`load_demo_data` fills an empty store with a catalogue, customers (about three in four
writing in Traditional Chinese, the rest in English), their Telegram and SMS identities
with consent and opt-outs, two years of orders and a handful of complaint tickets at
every stage of the service-recovery script. Everything is derived from the seed and
the clock passed in, never from the wall clock, so the same seed and `now` give the
same shop: demos, screenshots and tests can rely on it.

Some customers are placed on purpose so that every outreach flow has someone to talk
to: a few have their birthday today in their own time zone, about three in ten buyers
have lapsed, some never ordered, a few opted out or cannot be reached.

One module per thing built: `catalogue`, `customers` (with `addresses` and
`identities`), `orders`, `tickets` (with `scenarios`), put together in that order by
`loader`; `context` is what they share.
"""

from crm_store.demo.loader import DemoSummary, load_demo_data, store_has_customers

__all__ = ["DemoSummary", "load_demo_data", "store_has_customers"]
