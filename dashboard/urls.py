"""The dashboard's pages and JSON API (paths are part of the public interface)."""

from django.urls import path

from dashboard.alerts import views as alerts
from dashboard.auth import views as sign_in
from dashboard.browse import internals_views as internals
from dashboard.browse import views as browse
from dashboard.lag import views as lag
from dashboard.tail import views as tail
from dashboard.web import views as web
from dashboard.writes import exchange_views as exchange
from dashboard.writes import operate_views as operate
from dashboard.writes import resend_views as resend
from dashboard.writes import topic_views as topic_ops
from dashboard.writes import transaction_views as transactions
from dashboard.writes import views as writes

app_name = "dashboard"

# Group ids may hold any character, '/' included, so they use the path converter.
urlpatterns = [
    path("", web.index, name="index"),
    path("healthz", web.healthz, name="healthz"),
    path("access/why/", sign_in.why_page, name="why"),
    path("api/access/why/", sign_in.api_why, name="api_why"),
    path("alerts/", alerts.alerts_page, name="alerts"),
    path("api/alerts/", alerts.api_alerts, name="api_alerts"),
    path("api/alerts/silences/", alerts.silence_add, name="alert_silence_add"),
    path("api/alerts/silences/<int:silence_id>/end/", alerts.silence_end, name="alert_silence_end"),
    path("api/alerts/<int:alert_id>/ack/", alerts.alert_acknowledge, name="alert_ack"),
    path("api/alerts/receivers/<str:name>/test/", alerts.receiver_test, name="alert_test"),
    path(
        "api/alerts/prometheus-rules/",
        alerts.api_prometheus_rules,
        name="alert_prometheus_rules",
    ),
    path("clusters/<str:cluster>/", browse.overview, name="overview"),
    path("clusters/<str:cluster>/topics/", browse.topics, name="topics"),
    path("clusters/<str:cluster>/topics/<str:topic>/", browse.topic, name="topic"),
    path("clusters/<str:cluster>/topics/<str:topic>/tail/", tail.tail, name="tail"),
    path("clusters/<str:cluster>/topics/<str:topic>/produce/", writes.produce, name="produce"),
    path(
        "clusters/<str:cluster>/topics/<str:topic>/configs/",
        operate.topic_configs,
        name="topic_configs",
    ),
    path(
        "clusters/<str:cluster>/brokers/<str:broker>/configs/",
        operate.broker_configs,
        name="broker_configs",
    ),
    path("clusters/<str:cluster>/create-topic/", topic_ops.create_topic, name="create_topic"),
    path(
        "clusters/<str:cluster>/topics/<str:topic>/exchange/",
        exchange.exchange,
        name="exchange",
    ),
    *(
        path(
            f"clusters/<str:cluster>/topics/<str:topic>/{kind}/",
            topic_ops.topic_change,
            {"kind": kind},
            name=f"topic_{kind}",
        )
        for kind in ("partitions", "purge", "delete")
    ),
    path("clusters/<str:cluster>/groups/", browse.groups, name="groups"),
    path("clusters/<str:cluster>/schemas/", browse.schemas, name="schemas"),
    path(
        "clusters/<str:cluster>/schemas/<path:subject>/",
        browse.schema_subject,
        name="schema_subject",
    ),
    # reset/ before the group page: the path converter would take "g/reset" as a group id.
    path("clusters/<str:cluster>/groups/<path:group>/reset/", writes.reset, name="reset"),
    path(
        "clusters/<str:cluster>/groups/<path:group>/delete/",
        topic_ops.delete_group,
        name="group_delete",
    ),
    path("metrics", lag.metrics, name="metrics"),
    path("help/lag-status/", lag.lag_status_help, name="help_status"),
    path("clusters/<str:cluster>/groups/<path:group>/", browse.group, name="group"),
    path("audit/", writes.audit, name="audit"),
    path("api/audit/<int:record_id>/revert/", operate.api_revert, name="api_revert"),
    path("api/clusters/<str:cluster>/", browse.api_overview, name="api_overview"),
    path("api/clusters/<str:cluster>/topics/", browse.api_topics, name="api_topics"),
    path("api/clusters/<str:cluster>/topics/<str:topic>/", browse.api_topic, name="api_topic"),
    path(
        "api/clusters/<str:cluster>/topics/<str:topic>/partition/",
        writes.api_partition_preview,
        name="api_partition_preview",
    ),
    path(
        "api/clusters/<str:cluster>/topics/<str:topic>/export/",
        exchange.api_export,
        name="api_export",
    ),
    path(
        "api/clusters/<str:cluster>/topics/<str:topic>/import/",
        exchange.api_import,
        name="api_import",
    ),
    path("clusters/<str:cluster>/internals/", internals.internals, name="internals"),
    path("api/clusters/<str:cluster>/internals/", internals.api_internals, name="api_internals"),
    path(
        "clusters/<str:cluster>/transactions/",
        transactions.transactions,
        name="transactions",
    ),
    path(
        "clusters/<str:cluster>/topics/<str:topic>/transactions/",
        transactions.topic_transactions_page,
        name="topic_transactions",
    ),
    path(
        "api/clusters/<str:cluster>/transactions/",
        transactions.api_transactions,
        name="api_transactions",
    ),
    path(
        "api/clusters/<str:cluster>/topics/<str:topic>/transactions/",
        transactions.api_topic_transactions,
        name="api_topic_transactions",
    ),
    path(
        "api/clusters/<str:cluster>/topics/<str:topic>/transactions/abort/",
        transactions.api_abort,
        name="api_abort_transaction",
    ),
    path(
        "api/clusters/<str:cluster>/topics/<str:topic>/republish/",
        resend.api_republish,
        name="api_republish",
    ),
    path(
        "api/clusters/<str:cluster>/topics/<str:topic>/redrive/",
        resend.api_redrive,
        name="api_redrive",
    ),
    path(
        "api/clusters/<str:cluster>/create-topic/",
        topic_ops.api_create_topic,
        name="api_create_topic",
    ),
    path(
        "api/clusters/<str:cluster>/topics/<str:topic>/partitions/",
        topic_ops.api_partitions,
        name="api_topic_partitions",
    ),
    path(
        "api/clusters/<str:cluster>/topics/<str:topic>/purge/",
        topic_ops.api_purge,
        name="api_topic_purge",
    ),
    path(
        "api/clusters/<str:cluster>/topics/<str:topic>/delete/",
        topic_ops.api_delete_topic,
        name="api_topic_delete",
    ),
    path(
        "api/clusters/<str:cluster>/topics/<str:topic>/configs/",
        operate.api_topic_configs,
        name="api_topic_configs",
    ),
    path(
        "api/clusters/<str:cluster>/brokers/<str:broker>/configs/",
        operate.api_broker_configs,
        name="api_broker_configs",
    ),
    path(
        "api/clusters/<str:cluster>/topics/<str:topic>/history/",
        lag.api_topic_history,
        name="api_topic_history",
    ),
    path("api/clusters/<str:cluster>/groups/", browse.api_groups, name="api_groups"),
    path("api/clusters/<str:cluster>/schemas/", browse.api_schemas, name="api_schemas"),
    path(
        "api/clusters/<str:cluster>/schemas/<path:subject>/",
        browse.api_schema_subject,
        name="api_schema_subject",
    ),
    path(
        "api/clusters/<str:cluster>/groups/<path:group>/history/",
        lag.api_group_history,
        name="api_group_history",
    ),
    path(
        "api/clusters/<str:cluster>/groups/<path:group>/reset/", writes.api_reset, name="api_reset"
    ),
    path(
        "api/clusters/<str:cluster>/groups/<path:group>/delete/",
        topic_ops.api_delete_group,
        name="api_group_delete",
    ),
    path("api/clusters/<str:cluster>/groups/<path:group>/", browse.api_group, name="api_group"),
]
