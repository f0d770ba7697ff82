"""What changed in a group between two rounds, in words: state, members, partitions (pure)."""

from __future__ import annotations

from collections import defaultdict

from dashboard.kafka.groups.lag import Member
from dashboard.lag.models import GroupEvent


def members_json(members: tuple[Member, ...]) -> dict[str, dict[str, object]]:
    """Members as stored on GroupState: id → client id, host and assigned partitions."""
    return {
        m.member_id: {
            "client_id": m.client_id,
            "host": m.host,
            "assignment": [f"{t}/{p}" for t, p in m.assignment],
        }
        for m in members
    }


def _partitions_text(names: list[str]) -> str:
    by_topic: dict[str, list[int]] = defaultdict(list)
    for name in names:
        topic, _, partition = name.rpartition("/")
        by_topic[topic].append(int(partition))
    return "; ".join(f"{t} {','.join(map(str, sorted(ps)))}" for t, ps in sorted(by_topic.items()))


def _who(member_id: str, info: dict[str, object]) -> str:
    return f"{info.get('client_id') or '?'} ({member_id[-8:]})"


def membership_events(
    *, before_state: str, before: dict[str, dict], after_state: str, after: dict[str, dict]
) -> list[tuple[str, str]]:
    """(kind, text) for what changed between two snapshots of a group (pure)."""
    events: list[tuple[str, str]] = []
    if before_state != after_state:
        events.append((GroupEvent.Kind.STATE, f"state {before_state} → {after_state}"))
    for member_id in sorted(after.keys() - before.keys()):
        info = after[member_id]
        events.append(
            (GroupEvent.Kind.JOINED, f"member joined: {_who(member_id, info)} from {info['host']}")
        )
    for member_id in sorted(before.keys() - after.keys()):
        events.append((GroupEvent.Kind.LEFT, f"member left: {_who(member_id, before[member_id])}"))
    owner_before = {tp: m for m, info in before.items() for tp in info["assignment"]}
    owner_after = {tp: m for m, info in after.items() for tp in info["assignment"]}
    moved: dict[str, list[str]] = defaultdict(list)
    for tp in sorted(owner_before.keys() | owner_after.keys()):
        if owner_before.get(tp) != owner_after.get(tp):
            moved[owner_after.get(tp) or ""].append(tp)
    # One event a topic, so a user who may see only some of the group's topics is shown
    # exactly the moves on those (GroupEvent.topic; the text names that topic alone).
    by_topic: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for member_id, tps in moved.items():
        for tp in tps:
            by_topic[tp.rpartition("/")[0]][member_id].append(tp)
    for topic in sorted(by_topic):
        parts = []
        for member_id, tps in sorted(by_topic[topic].items()):
            target = _who(member_id, after[member_id]) if member_id else "no member (unassigned)"
            parts.append(f"{_partitions_text(tps)} → {target}")
        events.append((GroupEvent.Kind.MOVED, "partitions moved: " + "; ".join(parts)))
    return events


def event_topic(kind: str, text: str) -> str:
    """The topic a MOVED event's text names ('' for other kinds): its first word after the
    prefix (topic names hold no spaces)."""
    prefix = "partitions moved: "
    if kind != GroupEvent.Kind.MOVED or not text.startswith(prefix):
        return ""
    return text[len(prefix) :].split(" ", 1)[0]
