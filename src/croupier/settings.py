"""All configuration, read from ``CROUPIER_*`` environment variables."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import Engine

from croupier.connectors.config import Binding
from croupier.kit.db import create_db_engine


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CROUPIER_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./var/croupier.db"
    # FULL keeps every acknowledged commit through a power loss; NORMAL only through a crash.
    sqlite_synchronous: str = Field(default="FULL", pattern="^(OFF|NORMAL|FULL|EXTRA)$")

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1

    # Rate limits: a per-key override wins over this default.
    rate_limit_default: str = "60/minute"
    rate_limit_storage: str = "memory://"

    # Request limits.
    max_body_bytes: int = 1024 * 1024
    max_batch_body_bytes: int = 10 * 1024 * 1024
    datapulse_max_batch: int = 1000
    revvvs_max_batch: int = 100
    future_tolerance_seconds: int = 24 * 3600

    # Group-commit writer.
    writer_queue_size: int = 2000
    # Events in one commit at most. Larger commits cost less per event, but their requests
    # all wait for the whole: with 64 connections sending batches of 100, the server sat
    # idle 30% of the time while the store process committed merges of up to 5,000 events;
    # at 1,000, 12%, and 7-31% more events/s (SQLite and PostgreSQL, 4 pairs of runs).
    writer_max_batch_events: int = 1000
    # Groups are written by a child process (its own GIL, the other core); off, by a thread
    # of the server's process. An in-memory SQLite store is always written in-process.
    writer_process: bool = True
    store_retry_after_seconds: int = 5

    # Rejected events are kept for inspection, bounded.
    rejected_retention_days: int = 14
    rejected_max_payload_bytes: int = 64 * 1024

    # How long a looked-up API key stays cached in a process (revocations apply within it).
    key_cache_seconds: float = 5.0

    # The demo tenant created on first start of ``croupier serve``.
    bootstrap_demo: bool = True
    demo_api_key: SecretStr | None = None

    # Benchmarks only: POST /_bench/null reads the body and answers 200 with no work (the
    # HTTP ceiling the ingest endpoints are measured against).
    bench_null_endpoint: bool = False

    # Projections: run the projector inside ``croupier serve`` (embedded), or leave it to
    # ``croupier worker`` processes (production).
    projector_in_process: bool = True
    projector_batch_events: int = Field(default=4000, ge=1, le=50_000)
    # Embedded, each batch takes the ingest writer's thread: small batches keep ingest fast.
    projector_embedded_batch_events: int = Field(default=50, ge=1, le=50_000)
    # ... and smaller still while requests are arriving (projections.embedded).
    projector_embedded_busy_batch_events: int = Field(default=20, ge=1, le=50_000)
    projector_poll_seconds: float = Field(default=1.0, gt=0)

    # Affiliate clicks: X-Forwarded-For is believed only from these proxies (CIDRs, JSON list
    # in the environment), and a click is unique when the same link, IP and user agent saw
    # no click for this long.
    trusted_proxies: list[str] = []
    click_unique_window_hours: float = Field(default=24, gt=0)

    # Postbacks to affiliates: sent by ``croupier serve`` (embedded) or ``croupier worker``.
    # Targets on private/loopback/link-local addresses are refused unless allowed (SSRF).
    # None: wherever the projector runs (``projector_in_process``), so that one switch moves
    # both to ``croupier worker``.
    postback_in_process: bool | None = None
    postback_allow_private_targets: bool = False
    postback_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    postback_retry_hours: float = Field(default=24.0, gt=0)
    postback_poll_seconds: float = Field(default=1.0, gt=0)

    # Broker connectors (``croupier consume kafka|rabbitmq``, see the README). Bindings are a
    # JSON list in the environment: which operator and format each topic/queue carries.
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_group_id: str = "croupier"
    kafka_bindings: list[Binding] = []
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None
    # Where a consumer group with no committed offset starts.
    kafka_auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    kafka_max_batch: int = Field(default=5000, ge=1, le=50_000)
    # A consumer silent this long leaves the group and its partitions move to another.
    kafka_session_timeout_ms: int = Field(default=10_000, ge=500)
    kafka_create_dead_letter_topics: bool = True
    rabbitmq_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    rabbitmq_bindings: list[Binding] = []
    rabbitmq_prefetch: int = Field(default=4000, ge=1, le=65_535)
    rabbitmq_max_batch: int = Field(default=2000, ge=1, le=50_000)
    rabbitmq_declare_queues: bool = True
    # How long a consumer waits for more messages before it stores a partial batch.
    connector_batch_wait_ms: int = Field(default=20, ge=0, le=10_000)
    # ``croupier consume`` serves Prometheus metrics on this port (none when unset).
    connector_metrics_port: int | None = None
    # Run these consumers inside ``croupier serve`` too (RabbitMQ: one worker only, for the
    # order per queue; Kafka: each worker joins the group).
    consume_in_serve: list[Literal["kafka", "rabbitmq"]] = []

    log_level: str = "INFO"
    log_requests: bool = True

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: list[str]) -> list[str]:
        # A typo must stop the start, not the first click.
        for network in value:
            ipaddress.ip_network(network, strict=False)
        return value

    @property
    def sends_postbacks_in_process(self) -> bool:
        if self.postback_in_process is None:
            return self.projector_in_process
        return self.postback_in_process

    def store_engine(self, *, long_running: bool = False) -> Engine:
        """An engine on the configured store. ``long_running``: a process that writes for
        as long as it runs (serve, worker, replay, consume), whose SQLite log a thread of
        its own checkpoints (kit.wal); a short command leaves that to its commits."""
        return create_db_engine(
            self.database_url,
            sqlite_synchronous=self.sqlite_synchronous,
            background_checkpoints=long_running,
        )
