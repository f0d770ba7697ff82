"""Kafka requests that librdkafka does not send, encoded from Kafka's own message specs."""
