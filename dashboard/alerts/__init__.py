"""Alerts: rules from KAFKAVIEW_ALERTS_FILE judged on every sampler round, notifications
written before they are sent and delivered from a queue, silences and acknowledgements."""
