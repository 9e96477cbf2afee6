"""Prometheus metrics of the gateway, in a registry of its own (one per app)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.inbound = Counter(
            "crmbot_inbound_messages",
            "Customer messages received, by channel and what became of them",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.outbound = Counter(
            "crmbot_outbound_messages",
            "Outbox rows handled by the dispatcher, by channel and result",
            ["channel", "result"],
            registry=self.registry,
        )
        self.rasa_seconds = Histogram(
            "crmbot_rasa_seconds",
            "Time Rasa took to answer one burst of customer messages",
            registry=self.registry,
            buckets=(0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5, 10, 30),
        )
        self.holding_replies = Counter(
            "crmbot_holding_replies",
            "Holding replies sent because Rasa was down or slow",
            registry=self.registry,
        )
        self.webhook_rejections = Counter(
            "crmbot_webhook_rejections",
            "Webhook requests refused, by endpoint and HTTP status",
            ["endpoint", "status"],
            registry=self.registry,
        )
