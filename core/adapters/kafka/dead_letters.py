"""The back office's ``DeadLetterQueue`` port on Kafka, over ``core.dlq``."""

from __future__ import annotations

from collections.abc import Sequence

from core.dlq import DeadLetter, read_dead_letters, replay, select
from core.settings import Settings


class KafkaDeadLetters:
    """Reads and replays ``<topic>.dlq`` records of the deployment's broker."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def read(self, topic: str, limit: int | None = None) -> list[DeadLetter]:
        """The dead letters of ``topic`` present now (at most ``limit``)."""
        return read_dead_letters(self._settings, topic, limit=limit)

    def replay(self, topic: str, refs: Sequence[str]) -> int:
        """Re-publish the dead letters named by ``refs`` to their original topic; how many."""
        chosen = select(read_dead_letters(self._settings, topic), refs)
        return replay(self._settings, topic, chosen)
