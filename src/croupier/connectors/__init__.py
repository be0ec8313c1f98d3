"""Broker connectors: Kafka and RabbitMQ consumers feeding the ingest pipeline."""
