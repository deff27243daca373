"""Dead letters: list what an agent dead-lettered and re-publish chosen ones after a fix.

A dead letter keeps the original key and bytes, with the reason in headers (``error``,
``error_type``, ``error_field``, ``source_topic``...; see ``core/pipeline.py``). Replay
sends the original key and bytes, unchanged, to the original topic; consumers are
idempotent (request_id, job_id, campaign_id), so replaying twice is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import InvalidMessage, NotFound
from core.service_ports import EventSink
from core.settings import Settings
from core.streams import InboundRecord, TopicReader

PREVIEW_CHARS = 120


@dataclass(frozen=True)
class DeadLetter:
    """One record of a ``<topic>.dlq``."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def ref(self) -> str:
        """``partition:offset``, how ``replay`` names it."""
        return f"{self.partition}:{self.offset}"

    @property
    def preview(self) -> str:
        """The start of the value, printable."""
        text = self.value.decode("utf-8", errors="replace")
        return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "..."

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly view."""
        return {"partition": self.partition, "offset": self.offset,
                "key": (self.key or b"").decode("utf-8", errors="replace"),
                "headers": self.headers, "preview": self.preview}


def read_dead_letters(
    reader: TopicReader, settings: Settings, topic: str, limit: int | None = None
) -> list[DeadLetter]:
    """Every record of ``<topic>.dlq`` present now (oldest first per partition)."""
    name = settings.topic(topic) + ".dlq"
    try:
        records = reader.snapshot(name, limit)
    except NotFound as exc:
        raise InvalidMessage(f"no dead-letter topic {name}", field="topic") from exc
    return [_letter(r) for r in records]


def _letter(record: InboundRecord) -> DeadLetter:
    headers = {k: (v or b"").decode("utf-8", errors="replace") for k, v in record.headers}
    return DeadLetter(record.partition, record.offset, record.key, record.value, headers)


def select(letters: Sequence[DeadLetter], refs: Sequence[str]) -> list[DeadLetter]:
    """The dead letters named by ``partition:offset`` (or a bare offset when unambiguous)."""
    chosen = []
    for ref in refs:
        if ":" in ref:
            matches = [d for d in letters if d.ref == ref]
        else:
            matches = [d for d in letters if str(d.offset) == ref]
            if len(matches) > 1:
                raise InvalidMessage(f"offset {ref} is in several partitions: use P:{ref}",
                                     field="offset")
        if not matches:
            raise InvalidMessage(f"no dead letter at {ref}", field="offset")
        chosen.append(matches[0])
    return chosen


def original_topic(settings: Settings, topic: str, letter: DeadLetter) -> str:
    """Where a dead letter came from: its ``source_topic`` header, else ``<topic>``."""
    return letter.headers.get("source_topic") or settings.topic(topic)


def replay(sink: EventSink, settings: Settings, topic: str, letters: Sequence[DeadLetter]) -> int:
    """Re-publish the dead letters' original key and bytes to the original topic."""
    for letter in letters:
        sink.send(original_topic(settings, topic, letter), letter.key or b"", letter.value)
    return len(letters)
