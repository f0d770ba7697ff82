"""Why a user may or may not do something: the answer the pages give, and every step to it.

The verdict is computed by the same checks the pages run (dashboard.access.policy), so
it cannot disagree with them; the rules' reasons come from AccessRules.explain, which
walks the rules in allows()'s order.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from dashboard.access.policy import (
    LEGACY_PERMISSIONS,
    AccessDenied,
    Scope,
    cluster_check,
    group_check,
    scope_of,
    topic_check,
)
from dashboard.access.rules import ACTIONS, AccessRules, RuleVerdict
from dashboard.auth.models import ExternalIdentity
from dashboard.auth.sync import auth_config
from dashboard.kafka.errors import ClusterNotFound, GroupNotFound, InvalidRequest, TopicNotFound

TOPIC_ACTIONS = tuple(a for a in ACTIONS if a != "reset")
GROUP_ACTIONS = ("view", "reset", "delete")
CLUSTER_ACTIONS = ("view", "configure")


def why_actions(topic: str | None, group: str | None) -> tuple[str, ...]:
    """The actions one may ask about for a topic, a group or the cluster."""
    if topic is not None:
        return TOPIC_ACTIONS
    if group is not None:
        return GROUP_ACTIONS
    return CLUSTER_ACTIONS


def _verdict(
    scope: Scope, cluster: str, action: str, topic: str | None, group: str | None
) -> tuple[str, int]:
    try:
        if topic is not None:
            topic_check(scope, cluster, topic, action)
        elif group is not None:
            group_check(scope, cluster, group, action)
        else:
            cluster_check(scope, cluster)
            if action != "view" and not scope.may(action, cluster=cluster):
                raise AccessDenied(f"You may not {action} the cluster {cluster!r}.")
    except (ClusterNotFound, TopicNotFound, GroupNotFound):
        return "hidden", 404
    except AccessDenied:
        return "refused", 403
    return "allowed", 200


def _rules(verdicts: list[RuleVerdict]) -> list[dict[str, Any]]:
    return [
        {
            "index": v.index,
            "groups": sorted(v.rule.groups),
            "clusters": sorted(v.rule.clusters),
            "topics": [p.pattern for p in v.rule.topics],
            "consumer_groups": [p.pattern for p in v.rule.consumer_groups],
            "actions": sorted(v.rule.actions),
            "cluster_actions": sorted(v.rule.cluster_actions),
            "allows": v.allows,
            "reason": v.reason,
        }
        for v in verdicts
    ]


def _login(user: Any) -> dict[str, Any] | None:
    last = ExternalIdentity.objects.filter(user=user).order_by("-last_login_at").first()
    if last is None:
        return None
    lines = {line.index: line.source for line in auth_config().mapping.lines}
    return {
        "method": last.method,
        "at": last.last_login_at.isoformat(),
        "idp_groups": last.idp_groups,
        "django_groups": last.django_groups,
        "because": [
            {
                "idp_group": idp,
                "mapping": index,
                "mapping_line": lines.get(index, "(no longer in the file)"),
                "django_group": django,
            }
            for idp, index, django in last.because
        ],
    }


def why(
    user: Any, *, cluster: str, action: str, topic: str | None = None, group: str | None = None
) -> dict[str, Any]:
    """The verdict for the user and every step to it (the why page and its JSON)."""
    if topic is not None and group is not None:
        raise InvalidRequest("Ask about a topic or a consumer group, not both.")
    allowed = why_actions(topic, group)
    if action not in allowed:
        raise InvalidRequest(f"action must be one of {', '.join(allowed)}, not {action[:40]!r}.")
    scope = scope_of(user)
    verdict, status = _verdict(scope, cluster, action, topic, group)
    rules: AccessRules | None = scope.rules
    answer: dict[str, Any] = {
        "user": user.get_username(),
        "superuser": scope.superuser,
        "login": _login(user),
        "django_groups": sorted(user.groups.values_list("name", flat=True)),
        "request": {"cluster": cluster, "topic": topic, "group": group, "action": action},
        "verdict": verdict,
        "status": status,
        "read_only": settings.KAFKAVIEW_READ_ONLY,
        "mode": "superuser" if scope.superuser else ("rules" if rules else "permissions"),
        "view_rules": [],
        "action_rules": [],
        "permission": None,
        "masks": [],
    }
    steps: list[str] = []
    if settings.KAFKAVIEW_READ_ONLY and action in LEGACY_PERMISSIONS:
        steps.append(f"KAFKAVIEW_READ_ONLY is on: nobody may {action}.")
    if scope.superuser:
        steps.append("A superuser sees and may do everything (and sees values unmasked).")
    elif rules is None:
        steps.append("No access file: every logged-in user sees every cluster, topic and group.")
        permission = LEGACY_PERMISSIONS.get(action)
        if permission is not None:
            has = bool(user.has_perm(permission))
            answer["permission"] = {"name": permission, "has": has}
            steps.append(
                f"{action} takes the permission {permission}: you {'have' if has else 'lack'} it."
            )
    else:
        names = scope.groups
        answer["view_rules"] = _rules(
            rules.explain(groups=names, cluster=cluster, action="view", topic=topic, group=group)
            if topic is not None or group is not None
            else _cluster_seen(rules, names, cluster)
        )
        if action != "view":
            answer["action_rules"] = _rules(
                rules.explain(
                    groups=names, cluster=cluster, action=action, topic=topic, group=group
                )
            )
        if not names:
            steps.append("You are in no Django group, so no rule is for you.")
    if topic is not None and not scope.superuser and rules is not None:
        answer["masks"] = [
            {
                "index": i,
                "topics": [p.pattern for p in mask.topics],
                "json_fields": list(mask.json_fields),
                "regex": [p.pattern for p in mask.patterns],
            }
            for i, mask in enumerate(rules.masks)
            if any(p.fullmatch(topic) for p in mask.topics)
        ]
    steps.append(
        {
            "allowed": f"Allowed: the page answers {status}.",
            "refused": f"Refused: you see it, but may not {action} it (the page answers 403).",
            "hidden": "Hidden: no rule lets you see it; pages answer 404 as if it did not exist.",
        }[verdict]
    )
    answer["steps"] = steps
    return answer


def _cluster_seen(rules: AccessRules, groups: frozenset[str], cluster: str) -> list[RuleVerdict]:
    # Seeing a cluster takes any rule of one's groups that speaks of it (sees_cluster).
    out = []
    for i, rule in enumerate(rules.rules):
        if not rule.groups & groups:
            out.append(RuleVerdict(i, rule, False, "not for your groups"))
        elif not rule.covers_cluster(cluster):
            out.append(RuleVerdict(i, rule, False, f"not for cluster {cluster!r}"))
        else:
            out.append(RuleVerdict(i, rule, True, f"speaks of cluster {cluster!r}: you see it"))
    return out
