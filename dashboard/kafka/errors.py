"""Errors of the kafka layer: each says what failed and what a person can do."""


class KafkaViewError(Exception):
    """Base of every error the kafka layer raises."""


class ClusterConfigError(KafkaViewError):
    """The clusters configuration is malformed; names the file, the key and the problem."""

    def __init__(self, *, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        super().__init__(f"{source}: {key}: {problem}")


class ClusterNotFound(KafkaViewError):
    """No cluster of that name is configured."""

    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        super().__init__(f"No cluster named {cluster!r} is configured.")


class ClusterUnavailable(KafkaViewError):
    """The cluster did not answer in time (or refused the connection)."""

    def __init__(self, *, cluster: str, bootstrap_servers: str, detail: str) -> None:
        self.cluster = cluster
        self.bootstrap_servers = bootstrap_servers
        self.detail = detail
        super().__init__(
            f"Cluster {cluster!r} did not answer (tried {bootstrap_servers}): {detail}"
        )


class TopicNotFound(KafkaViewError):
    """The topic does not exist on the cluster."""

    def __init__(self, *, cluster: str, topic: str) -> None:
        self.cluster = cluster
        self.topic = topic
        super().__init__(f"Topic {topic!r} does not exist on cluster {cluster!r}.")


class GroupNotFound(KafkaViewError):
    """The consumer group does not exist on the cluster."""

    def __init__(self, *, cluster: str, group: str) -> None:
        self.cluster = cluster
        self.group = group
        super().__init__(f"Consumer group {group!r} does not exist on cluster {cluster!r}.")


class BrokerNotFound(KafkaViewError):
    """No broker of that id is in the cluster."""

    def __init__(self, *, cluster: str, broker: str) -> None:
        self.cluster = cluster
        self.broker = broker
        super().__init__(f"Broker {broker[:50]!r} is not a broker of cluster {cluster!r}.")


class GroupNotEmpty(KafkaViewError):
    """The group has active members, so its offsets cannot be changed."""


class InvalidRequest(KafkaViewError):
    """The request is not valid (bad name, offset out of range, ...)."""


class RegistryNotFound(KafkaViewError):
    """The cluster has no Schema Registry configured, or the subject/version is not in it."""


class RegistryUnavailable(KafkaViewError):
    """The cluster's Schema Registry did not answer (or answered an error)."""


class TooManyTails(KafkaViewError):
    """A user or a web process has as many tails open as allowed (429)."""
