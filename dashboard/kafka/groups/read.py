"""Every group of every type read in one round: the list, the describes, the offsets.

Consumer groups (classic and KIP-848) are described by librdkafka; share, streams and
other classic protocols (Kafka Connect) by our own requests to each group's
coordinator (dashboard/kafka/protocol/). Every request is sent before any is awaited.
A group whose describe fails keeps its row with the error; it is never left out.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from dashboard.kafka.client.brokers import BrokerNode, answer, send
from dashboard.kafka.client.clients import admin_client, groups_listed, request_timeout, translate
from dashboard.kafka.client.failures import COORDINATOR_MOVING
from dashboard.kafka.errors import ClusterUnavailable
from dashboard.kafka.groups.classic import ClassicDescription, classic_parse, classic_send
from dashboard.kafka.groups.consumer import (
    ConsumerProtocolDescription,
    consumer_protocol_parse,
    consumer_protocol_send,
)
from dashboard.kafka.groups.listing import Listed, groups_every
from dashboard.kafka.groups.share import ShareDescription, share_parse, share_send
from dashboard.kafka.groups.streams import StreamsDescription, streams_parse, streams_send
from dashboard.kafka.protocol.fast import OffsetFetchAsk
from dashboard.kafka.protocol.wire import Unsupported


@dataclass(frozen=True)
class Member:
    """A member of a group and the partitions it owns."""

    member_id: str
    client_id: str
    host: str
    group_instance_id: str | None
    assignment: tuple[tuple[str, int], ...]
    # KIP-848 consumer groups: what the broker wants this member to own; it differs
    # from `assignment` while the member reconciles (revokes, then takes partitions).
    target_assignment: tuple[tuple[str, int], ...] | None = None


@dataclass(frozen=True)
class GroupRaw:
    """What Kafka said about one group, before lag is computed."""

    group: str
    description: Any | None  # librdkafka's ConsumerGroupDescription (consumer groups only)
    committed: dict[tuple[str, int], int]
    listing_state: str | None
    listing_type: str | None
    coordinator: int | None = None
    listing_protocol_type: str | None = None
    share: ShareDescription | None = None
    streams: StreamsDescription | None = None
    classic: ClassicDescription | None = None
    consumer_protocol: ConsumerProtocolDescription | None = None
    error: str | None = None


@dataclass(frozen=True)
class GroupsRead:
    """Every group's raw data, and what could not be listed (said on the page)."""

    raws: list[GroupRaw]
    notice: str | None = None
    nodes: tuple[BrokerNode, ...] = field(default=())


CONSUMER_TYPES = frozenset({"classic", "consumer"})


def _enum_name(value: Any, default: str = "unknown") -> str:
    name = getattr(value, "name", None)
    return name.lower() if isinstance(name, str) else default


def _result_or_error(future: Any, *, cluster: str) -> tuple[Any | None, str | None]:
    """A group's result; None when Kafka has no such group; the error text of a refusal."""
    try:
        return future.result(timeout=request_timeout() + 0.5), None
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        if isinstance(error, KafkaError) and error.code() == KafkaError.GROUP_ID_NOT_FOUND:
            return None, None
        translated = translate(exc, cluster=cluster)
        if isinstance(translated, ClusterUnavailable):
            raise translated from None
        return None, str(translated)
    except TimeoutError:
        raise translate(TimeoutError("no answer in time"), cluster=cluster) from None


# OffsetFetch v8+ takes many groups: one request per coordinator (and this many groups)
# instead of one per group. v10 names topics by id; v8-9 (OffsetFetchAsk) by name, as we
# have them.
FETCH_GROUPS_PER_REQUEST = 500


class FetchPart:
    """One group's part of a batched OffsetFetch: it waits on the batch. A Future a group
    (a Condition and a lock each) was 0.3 s of a topic page at 10,000 groups (py-spy)."""

    __slots__ = ("_batch", "_group")

    def __init__(self, batch: Future[dict[str, Any]], group: str) -> None:
        self._batch, self._group = batch, group

    def result(self, timeout: float | None = None) -> Any:
        got = self._batch.result(timeout)[self._group]
        if isinstance(got, Future):  # sent again one group alone (librdkafka's way)
            return got.result(timeout)
        if isinstance(got, BaseException):
            raise got
        return got


def committed_send(
    *,
    cluster: str,
    group_ids: Sequence[str],
    coordinators: Mapping[str, BrokerNode] | None = None,
    partitions: Mapping[str, Sequence[int]] | None = None,
) -> dict[str, Any]:
    """OffsetFetch for each group, all in flight: batched per coordinator where it is known.

    Each group's handle (a Future or a FetchPart) gives what committed_parse reads: our
    committed offsets by partition, or librdkafka's ConsumerGroupTopicPartitions; it
    raises as librdkafka does.
    partitions: only these topics' partitions (by topic), not every commit of the group.
    """
    wanted = None if partitions is None else list(partitions.items())
    coordinators = coordinators or {}
    out: dict[str, Any] = {}
    batched: dict[BrokerNode, list[str]] = defaultdict(list)
    for g in group_ids:
        node = coordinators.get(g)
        if node is None:
            out[g] = _fetch_one(cluster=cluster, group=g, partitions=partitions)
        else:
            batched[node].append(g)
    for node, ids in batched.items():
        for start in range(0, len(ids), FETCH_GROUPS_PER_REQUEST):
            chunk = ids[start : start + FETCH_GROUPS_PER_REQUEST]
            batch: Future[dict[str, Any]] = Future()
            out.update((g, FetchPart(batch, g)) for g in chunk)
            ask = OffsetFetchAsk(chunk, topics=wanted)
            sent = send(cluster=cluster, node=node, name=ask.name, values=ask)
            sent.add_done_callback(partial(_batch_done, cluster, chunk, partitions, batch))
    return out


def _batch_done(
    cluster: str,
    groups: list[str],
    partitions: Mapping[str, Sequence[int]] | None,
    batch: Future[dict[str, Any]],
    sent: Future[Any],
) -> None:
    try:
        batch.set_result(_fetched(cluster, groups, partitions, sent))
    except BaseException as exc:  # the batch's waiters must never wait for nothing
        batch.set_exception(exc)


def _fetch_one(
    *, cluster: str, group: str, partitions: Mapping[str, Sequence[int]] | None = None
) -> Future[Any]:
    admin = admin_client(cluster=cluster)
    asked = (
        None
        if partitions is None
        else [TopicPartition(t, p) for t, ps in partitions.items() for p in ps]
    )
    return admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group, asked)], request_timeout=request_timeout()
    )[group]


def _fetched(
    cluster: str,
    groups: Sequence[str],
    partitions: Mapping[str, Sequence[int]] | None,
    sent: Future[Any],
) -> dict[str, Any]:
    """Each group's part of a batched OffsetFetch answer (on the pool's thread): its
    committed offsets, its error, or the Future of the group asked again alone."""
    try:
        answer = sent.result()
    except Unsupported:
        # A broker before Kafka 3.0 fetches one group a request: as librdkafka does it.
        return {g: _fetch_one(cluster=cluster, group=g, partitions=partitions) for g in groups}
    except BaseException as exc:  # no answer: every group of the batch waits no longer
        return {g: TimeoutError(str(exc) or "no answer in time") for g in groups}
    # A partition's error, or -1, is no commit (OffsetFetchAsk leaves it out), as
    # librdkafka's parse has it.
    answered = {g: (code, commits) for g, code, commits in answer}
    out: dict[str, Any] = {}
    for g in groups:
        code, commits = answered.get(g, (16, {}))  # not answered: as NOT_COORDINATOR
        if code in COORDINATOR_MOVING:
            out[g] = _fetch_one(cluster=cluster, group=g, partitions=partitions)
        elif code != 0:
            out[g] = KafkaException(KafkaError(code))
        else:
            out[g] = commits
    return out


def committed_parse(fetched: Any | None) -> dict[tuple[str, int], int]:
    """Committed offsets by partition; a negative offset (-1001) means nothing committed."""
    if isinstance(fetched, dict):  # ours, parsed as it was decoded
        return fetched
    committed = {}
    if fetched is not None:
        for tp in fetched.topic_partitions:
            if tp.error is None and tp.offset >= 0:
                committed[(tp.topic, tp.partition)] = tp.offset
    return committed


def groups_raw(
    *,
    cluster: str,
    group_ids: Sequence[str],
    listing: dict[str, Listed] | None = None,
    offsets: Mapping[str, Any] | None = None,
    undescribed: frozenset[str] = frozenset(),
) -> list[GroupRaw]:
    """Describe consumer groups and fetch their committed offsets, all in flight at once.

    offsets: the groups' OffsetFetch already sent (by groups_read, with every other group's);
    undescribed: groups whose listing says all there is (idle: no members), not described.
    """
    if not group_ids:
        return []
    admin = admin_client(cluster=cluster)
    to_describe = [g for g in group_ids if g not in undescribed]
    described = (
        admin.describe_consumer_groups(to_describe, request_timeout=request_timeout())
        if to_describe
        else {}
    )
    if offsets is None:
        offsets = committed_send(cluster=cluster, group_ids=group_ids)
    raws = []
    for g in group_ids:
        description, describe_error = (
            _result_or_error(described[g], cluster=cluster) if g in described else (None, None)
        )
        fetched, fetch_error = _result_or_error(offsets[g], cluster=cluster)
        entry = (listing or {}).get(g)
        raws.append(
            GroupRaw(
                group=g,
                description=description,
                committed=committed_parse(fetched),
                listing_state=entry.state if entry is not None else None,
                listing_type=entry.type if entry is not None else None,
                coordinator=entry.coordinator if entry is not None else None,
                listing_protocol_type=entry.protocol_type if entry is not None else None,
                error=describe_error or fetch_error,
            )
        )
    return raws


@dataclass(frozen=True)
class GroupListing:
    """Every group with its type and state (no describe yet), for sorting and paging."""

    groups: tuple[Listed, ...]
    nodes: tuple[BrokerNode, ...]
    notice: str | None


def groups_listing(*, cluster: str) -> GroupListing:
    """Every group of every type as the brokers list them (one ListGroups per broker)."""
    listed, nodes, notice = _listing(cluster=cluster)
    return GroupListing(groups=tuple(listed), nodes=nodes, notice=notice)


def _listing(*, cluster: str) -> tuple[list[Listed], tuple[BrokerNode, ...], str | None]:
    """Our ListGroups to every broker; librdkafka's consumer-only list if we cannot send it."""
    try:
        listed, nodes = groups_every(cluster=cluster)
        return listed, nodes, None
    except Unsupported as exc:
        fallback = [
            Listed(
                group=g.group_id,
                type=_enum_name(g.type, "classic"),
                protocol_type="consumer",
                state=_enum_name(g.state),
                coordinator=-1,
            )
            for g in groups_listed(cluster=cluster)
        ]
        notice = f"Only consumer groups are shown: share, streams and Connect groups need {exc}."
        return fallback, (), notice


@dataclass(frozen=True)
class Kind:
    """A kind of group we describe ourselves: how to ask its coordinator, how to read the
    answer, and the GroupRaw field its description goes in. Adding a kind: a module with
    `<kind>_send` / `<kind>_parse` and a line in KINDS."""

    send: Callable[..., Any]
    parse: Callable[[str, Any], dict[str, Any]]
    field: str


KINDS: dict[str, Kind] = {
    "share": Kind(
        send=share_send,
        parse=lambda cluster, sent: share_parse(
            cluster=cluster, described=sent[0], offsets=sent[1]
        ),
        field="share",
    ),
    "streams": Kind(
        send=streams_send,
        parse=lambda cluster, sent: streams_parse(cluster=cluster, described=sent),
        field="streams",
    ),
    # Connect and any other classic protocol type: DescribeGroups.
    "classic": Kind(
        send=classic_send,
        parse=lambda cluster, sent: classic_parse(answer(sent, cluster=cluster)),
        field="classic",
    ),
}


def _kind_of(entry: Listed) -> str:
    return entry.type if entry.type in KINDS else "classic"


def _other_raw(
    *, cluster: str, entry: Listed, node_id: int, kind: str, found: Any, fetched: Any
) -> GroupRaw:
    """One group of a kind we describe ourselves, with its committed offsets (if any)."""
    committed: dict[tuple[str, int], int] = {}
    error = None
    if fetched is not None:
        result, error = _result_or_error(fetched, cluster=cluster)
        committed = committed_parse(result)
    if found is None:
        error = error or "the coordinator did not describe this group"
    return GroupRaw(
        group=entry.group,
        description=None,
        committed=committed,
        listing_state=entry.state,
        listing_type=entry.type,
        coordinator=node_id,
        error=(found.error if found is not None else None) or error,
        **{KINDS[kind].field: found},
    )


def _epochs_send(
    *, cluster: str, consumer: list[Listed], by_node: Mapping[int, BrokerNode]
) -> list[Future[Any]]:
    """ConsumerGroupDescribe for the KIP-848 groups, one request per coordinator."""
    kip848: dict[int, list[str]] = defaultdict(list)
    for g in consumer:
        if g.type == "consumer" and g.coordinator in by_node:
            kip848[g.coordinator].append(g.group)
    return [
        consumer_protocol_send(cluster=cluster, node=by_node[node_id], group_ids=ids)
        for node_id, ids in kip848.items()
    ]


def _epochs_added(*, cluster: str, raws: list[GroupRaw], sent: list[Future[Any]]) -> list[GroupRaw]:
    epochs: dict[str, ConsumerProtocolDescription] = {}
    for future in sent:
        epochs.update(consumer_protocol_parse(cluster=cluster, described=future))
    return [
        dataclasses.replace(raw, consumer_protocol=epochs[raw.group])
        if raw.group in epochs
        else raw
        for raw in raws
    ]


# A consumer group listed in these states has no members: its describe would say only
# what the listing did. librdkafka describes one group a request (FindCoordinator, then
# DescribeGroups): 10,000 idle groups cost 5 of the group list's 7 s (bench/big.py).
IDLE_STATES = frozenset({"empty", "dead"})


def groups_read(
    *,
    cluster: str,
    only: Sequence[str] | None = None,
    listing: GroupListing | None = None,
    idle_described: bool = True,
    partitions: Mapping[str, Sequence[int]] | None = None,
) -> GroupsRead:
    """Every group (or the named ones) of every type: listings, describes and offsets;
    idle_described=False leaves idle consumer groups as their listing says (lists do);
    partitions: committed offsets of these topics' partitions only (a topic's page)."""
    if listing is None:
        listing = groups_listing(cluster=cluster)
    listed = list(listing.groups)
    if only is not None:
        wanted = set(only)
        listed = [g for g in listed if g.group in wanted]
    by_node = {n.id: n for n in listing.nodes}
    consumer = [g for g in listed if g.type in CONSUMER_TYPES or g.coordinator not in by_node]
    # A set: "in" on the list compared whole rows, 2,000 x 2,000 of them (py-spy, bench/big.py).
    is_consumer = {g.group for g in consumer}
    others: dict[tuple[str, int], list[str]] = defaultdict(list)
    for g in listed:
        if g.group not in is_consumer:
            others[(_kind_of(g), g.coordinator)].append(g.group)
    # Send everything first: our requests run on their own threads meanwhile.
    sent = {
        (kind, node_id): KINDS[kind].send(cluster=cluster, node=by_node[node_id], group_ids=ids)
        for (kind, node_id), ids in others.items()
    }
    epochs_sent = _epochs_send(cluster=cluster, consumer=consumer, by_node=by_node)
    # One OffsetFetch per coordinator for every group with offsets (share groups have
    # start offsets instead), consumer groups and the others alike.
    coordinators = {g.group: by_node[g.coordinator] for g in listed if g.coordinator in by_node}
    fetch_ids = [g for (kind, _), ids in others.items() if kind != "share" for g in ids]
    consumer_ids = [g.group for g in consumer]
    fetches = committed_send(
        cluster=cluster,
        group_ids=[*fetch_ids, *consumer_ids],
        coordinators=coordinators,
        partitions=partitions,
    )
    entries = {g.group: g for g in listed}
    idle = frozenset(
        g.group
        for g in consumer
        if not idle_described and g.state in IDLE_STATES and g.coordinator in by_node
    )
    raws = groups_raw(
        cluster=cluster,
        group_ids=consumer_ids,
        listing=entries,
        offsets=fetches,
        undescribed=idle,
    )
    raws = _epochs_added(cluster=cluster, raws=raws, sent=epochs_sent)
    for (kind, node_id), future in sent.items():
        parsed = KINDS[kind].parse(cluster, future)
        raws.extend(
            _other_raw(
                cluster=cluster,
                entry=entries[gid],
                node_id=node_id,
                kind=kind,
                found=parsed.get(gid),
                fetched=fetches.get(gid),
            )
            for gid in others[(kind, node_id)]
        )
    raws.sort(key=lambda r: r.group)
    return GroupsRead(raws=raws, notice=listing.notice, nodes=listing.nodes)


def raw_members(raw: GroupRaw) -> tuple[Member, ...]:
    """The members of a group of any type, with the partitions each is assigned."""
    if raw.share is not None:
        return tuple(
            Member(m.member_id, m.client_id, m.host, None, m.assignment) for m in raw.share.members
        )
    if raw.streams is not None:
        return tuple(
            Member(m.member_id, m.client_id, m.host, m.instance_id, m.assignment)
            for m in raw.streams.members
        )
    if raw.classic is not None:
        return tuple(
            Member(m.member_id, m.client_id, m.host, m.group_instance_id, ())
            for m in raw.classic.members
        )
    if raw.description is None:
        return ()
    members = []
    for m in raw.description.members:
        assignment = m.assignment.topic_partitions if m.assignment else []
        target = getattr(m, "target_assignment", None)
        members.append(
            Member(
                member_id=m.member_id,
                client_id=m.client_id,
                host=(m.host or "").lstrip("/"),
                group_instance_id=m.group_instance_id,
                assignment=tuple(sorted((tp.topic, tp.partition) for tp in assignment)),
                target_assignment=tuple(
                    sorted((tp.topic, tp.partition) for tp in target.topic_partitions)
                )
                if target is not None
                else None,
            )
        )
    return tuple(sorted(members, key=lambda m: (m.client_id, m.member_id)))


def raw_state(raw: GroupRaw) -> str:
    """The group's state as described, else as listed, else dead."""
    described = raw.share or raw.streams or raw.classic
    if described is not None and described.state != "unknown":
        return described.state
    if raw.description is not None:
        return _enum_name(raw.description.state)
    return raw.listing_state or "dead"


def raw_type(raw: GroupRaw) -> str:
    """classic, consumer, share, streams, connect (or another classic protocol type)."""
    if raw.listing_type and raw.listing_type not in CONSUMER_TYPES:
        return raw.listing_type
    name = _enum_name(getattr(raw.description, "type", None), default="")
    if name and name != "unknown":
        return name
    return raw.listing_type or "unknown"


def raw_simple(raw: GroupRaw) -> bool:
    """A group that only commits offsets (no protocol type), as librdkafka's describe says."""
    if raw.description is not None:
        return bool(raw.description.is_simple_consumer_group)
    if raw.share or raw.streams or raw.classic:
        return False
    return raw.listing_protocol_type == ""


def raw_assignor(raw: GroupRaw) -> str:
    """The assignor (consumer, share) or protocol (Connect) the group uses."""
    if raw.share is not None:
        return raw.share.assignor
    if raw.classic is not None:
        return raw.classic.protocol
    if raw.description is not None:
        return raw.description.partition_assignor or ""
    return ""
