"""Prometheus metrics: render latency, fallbacks by reason, rule hits, recommendation outcomes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    """The service's metrics, in their own registry (one per app, so tests stay independent)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.render_seconds = Histogram(
            "tailor_render_seconds",
            "Time to answer a render, by template and outcome",
            ["template", "outcome"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.fallbacks = Counter(
            "tailor_fallbacks_total", "Fallbacks taken during renders, by reason", ["reason"], registry=self.registry
        )
        self.rule_hits = Counter(
            "tailor_rule_hits_total",
            "Rules that chose a block, by slot and rule id",
            ["slot", "rule"],
            registry=self.registry,
        )
        self.recs = Counter(
            "tailor_recommendations_total",
            "Recommendation provider answers, by provider and outcome",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self.ingested = Counter(
            "tailor_ingested_events_total",
            "Events ingested, by source and result",
            ["source", "result"],
            registry=self.registry,
        )
        self.identity_conflicts = Counter(
            "tailor_identity_conflicts_total",
            "Ingested identity claims refused because the identifier belongs to another known profile, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.message_id_clashes = Counter(
            "tailor_message_id_clashes_total",
            "Ingested messageIds already used: by the same sender for other content (reused) or by another (shared)",
            ["kind"],
            registry=self.registry,
        )
        self.sends = Counter(
            "tailor_sends_total",
            "Emails rendered for a recipient, by template and whether the recipient is in the control group",
            ["template", "control"],
            registry=self.registry,
        )
        self.blocks = Counter(
            "tailor_blocks_total",
            "Blocks chosen for a slot, by slot and block",
            ["slot", "block"],
            registry=self.registry,
        )
        self.requests = Counter(
            "tailor_http_requests_total",
            "HTTP requests, by endpoint and status",
            ["endpoint", "status"],
            registry=self.registry,
        )
