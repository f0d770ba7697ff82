"""Template context shared by every page: the clusters for the switcher."""

from typing import Any

from django.http import HttpRequest

from dashboard.kafka.client.clients import clusters_all


def clusters(request: HttpRequest) -> dict[str, Any]:
    configured = clusters_all()
    match = getattr(request, "resolver_match", None)
    current = (match.kwargs.get("cluster") if match else None) or configured.default
    config = configured.by_name.get(current)
    return {
        "cluster_names": sorted(configured.by_name),
        "current_cluster": current,
        # The Schemas link shows only for a cluster with a registry.
        "has_registry": config is not None and config.schema_registry is not None,
    }
