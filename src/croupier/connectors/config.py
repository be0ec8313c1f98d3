"""How a topic or queue is bound to an operator and a wire format (settings, no I/O).

A broker carries no API key, so each topic (Kafka) or queue (RabbitMQ) is bound by
configuration: either to an operator and brand outright, or to "whatever key each message
carries" in a header, checked like HTTP's ``X-API-Key``.
"""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from croupier.events.model import Format

DEAD_LETTER_SUFFIX = ".dead-letter"


class Binding(BaseModel):
    """One topic or queue: ``{"topic": "ft-events", "format": "fasttrack", "operator":
    "acme"}``, or with ``"key_header": "x-api-key"`` instead of an operator."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1, validation_alias=AliasChoices("name", "topic", "queue"))
    format: Format
    # The operator (name or id) and brand (name or id; default: its oldest) the events are for.
    operator: str | None = None
    brand: str | None = None
    # Events stored but kept out of projections and reports, like a test key's.
    is_test: bool = False
    # Instead of an operator: each message carries an API key in this header.
    key_header: str | None = None
    # Where refused messages go; default ``<name>.dead-letter``.
    dead_letter: str | None = None

    @model_validator(mode="after")
    def _one_way_to_bind(self) -> Binding:
        if (self.operator is None) == (self.key_header is None):
            raise ValueError(
                f"binding {self.name!r}: give either an operator or a key_header, not both"
                if self.operator
                else f"binding {self.name!r}: give an operator or a key_header"
            )
        if self.key_header is not None and (self.brand is not None or self.is_test):
            raise ValueError(
                f"binding {self.name!r}: brand and is_test come from the key with key_header"
            )
        return self

    @property
    def dead_letter_name(self) -> str:
        return self.dead_letter or self.name + DEAD_LETTER_SUFFIX
