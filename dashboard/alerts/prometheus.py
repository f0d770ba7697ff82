"""The alert rules as a Prometheus rule file over kafkaview's own /metrics, for teams who
route alerts through Alertmanager instead (`GET /api/alerts/prometheus-rules/`)."""

from __future__ import annotations

import json

from dashboard.alerts.rules import AlertRule, AlertRules

LEVELS = {"WARN": 1, "REWIND": 2, "STALL": 3, "STOP": 4}


def _selector(rule: AlertRule, name_label: str) -> str:
    parts = []
    if rule.clusters:
        parts.append(f'cluster=~"{"|".join(sorted(rule.clusters))}"')
    if rule.match is not None:
        # PromQL's =~ is anchored like our full match, and RE2 like ours.
        parts.append(f"{name_label}=~{json.dumps(rule.match.pattern)}")
    if rule.types:
        parts.append(f'type=~"{"|".join(sorted(rule.types))}"')
    return "{" + ",".join(parts) + "}"


def _expr(rule: AlertRule) -> str | None:
    if rule.on == "group":
        sel = _selector(rule, "group")
        if rule.when == "status":
            statuses = [s for s, n in LEVELS.items() if n >= LEVELS[rule.at_least or "STOP"]]
            inner = sel[:-1] + ("," if sel != "{}" else "") + f'status=~"{"|".join(statuses)}"}}'
            return f"max by (cluster, group) (kafkaview_consumergroup_status{inner}) == 1"
        if rule.when == "lag_messages":
            return f"kafkaview_consumergroup_lag_total{sel} > {rule.above:g}"
        if rule.when == "lag_seconds":
            return (
                "max by (cluster, group) "
                f"(kafkaview_consumergroup_lag_seconds_estimate{sel}) > {rule.above:g}"
            )
        return None  # no_members: /metrics has no member count
    if rule.on == "topic":
        if rule.when == "no_new_records":
            sel = _selector(rule, "topic")
            window = max(int(rule.for_seconds), 60)
            return (
                "sum by (cluster, topic) "
                f"(changes(kafkaview_partition_end_offset{sel}[{window}s])) == 0"
            )
        return None  # replica state is not in /metrics
    sel = _selector(rule, "cluster")
    if rule.when == "sampler_stale":
        return f"time() - kafkaview_sampler_last_success_timestamp_seconds{sel} > {rule.above:g}"
    return f"kafkaview_sampler_up{sel} == 0"


def prometheus_rules(rules: AlertRules) -> str:
    """A Prometheus rule file (YAML, written as JSON, which YAML reads) of the rules that
    /metrics can express; the others are listed as comments."""
    alerts, left = [], []
    for rule in rules.rules:
        expr = _expr(rule)
        if expr is None:
            left.append(f"# {rule.name}: {rule.on} {rule.when} has no /metrics series")
            continue
        alerts.append(
            {
                "alert": rule.name,
                "expr": expr,
                "for": f"{int(rule.for_seconds)}s",
                "keep_firing_for": f"{int(rule.clear_for_seconds)}s",
                "labels": {"severity": rule.severity},
                "annotations": {"summary": f"kafkaview rule {rule.name} ({rule.on} {rule.when})"},
            }
        )
    head = f"# From {rules.source}; kafkaview's own alerts do the same (README: Alerts).\n"
    body = json.dumps({"groups": [{"name": "kafkaview", "rules": alerts}]}, indent=2)
    return head + "".join(f"{line}\n" for line in left) + body + "\n"
