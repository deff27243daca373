"""Publish a compensation job and wait for its report on ``compensation.results`` (ops side).

The watcher pins the current end of every results partition *before* the job is published,
so the report cannot slip by, and reads nothing older.
"""

from __future__ import annotations

import time
from contextlib import ExitStack

from core.service_ports import EventSink
from core.settings import Settings
from core.streams import RecordStream, TopicReader
from core.topics import Topic
from schemas.base import MessageDecodeError
from schemas.events import CompensationJob, CompensationReport


class ReportWatcher:
    """Reads ``compensation.results`` from its current end; use as a context manager."""

    def __init__(self, reader: TopicReader, settings: Settings) -> None:
        self._reader = reader
        self._topic = settings.topic(Topic.COMPENSATION_RESULTS)
        self._exits = ExitStack()
        self._stream: RecordStream | None = None

    def __enter__(self) -> ReportWatcher:
        self._stream = self._exits.enter_context(self._reader.tail(self._topic))
        return self

    def __exit__(self, *exc: object) -> None:
        self._exits.close()

    def wait(self, job_id: str, timeout: float) -> CompensationReport | None:
        """The report of ``job_id``, or None when none arrived within ``timeout`` seconds."""
        assert self._stream is not None, "use ReportWatcher as a context manager"
        deadline = time.monotonic() + timeout
        key = job_id.encode()
        while time.monotonic() < deadline:
            for record in self._stream.poll(0.5):
                if record.key != key:
                    continue
                try:
                    return CompensationReport.from_bytes(record.value)
                except MessageDecodeError:
                    continue
        return None


def publish_job(sink: EventSink, settings: Settings, job: CompensationJob) -> None:
    """Produce the job (key job_id) and wait until it is durable."""
    sink.send(settings.topic(Topic.COMPENSATION_JOBS), job.job_id.encode(), job.to_bytes())
