"""Where an export hands its chunks: the caller's thread (the default), or a file writer
on its own thread, fed chunk by chunk through a short queue (``export_writer_thread``).
A chunk is whatever the writer takes: the export hands locked rows to a writer that opens
their seals and formats them (``core/export/service.py``), so with the thread both of those
client-CPU steps overlap the server's work.

An export alternates database round trips (lock a chunk, mark it: work done by the server
while the client waits) with formatting rows into the file (client CPU). Running the writer
on a thread lets the two overlap: while the server marks chunk k, the file takes chunk k.
The C driver and zlib release the GIL while they wait or deflate. On the shared two-core
machine this cost more CPU and wall time than it saved (docs/performance.md), so it is off
by default and kept for a comparison on a quiet machine (``bench/export.py``).

The queue holds at most ``depth`` chunks, so memory stays bounded by the chunk size; the
transaction (and its connection) stays on the caller's thread, and any writer error is
raised there, at the next :meth:`submit` or at :meth:`finish`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Generic, Protocol, TypeVar

_DONE = None
_POLL_SECONDS = 0.5

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


class ChunkWriter(Protocol[T_contra]):
    """Takes chunks of items (rows) and completes its file at ``close()``."""

    def write_rows(self, rows: Sequence[T_contra]) -> None:
        """Append a chunk."""

    def close(self) -> None:
        """Finish the file."""


class InlineWriter(Generic[T]):
    """The same interface as :class:`BackgroundWriter`, writing on the caller's thread."""

    def __init__(self, writer: ChunkWriter[T]) -> None:
        self._writer = writer
        self._closed = False

    def submit(self, rows: Sequence[T]) -> None:
        """Write a chunk now."""
        self._writer.write_rows(rows)

    def finish(self) -> None:
        """Close the file."""
        self._close()

    def __enter__(self) -> InlineWriter[T]:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._close()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            self._writer.close()


class BackgroundWriter(Generic[T]):
    """Feeds chunks of rows to ``writer`` on a thread; closes the writer at :meth:`finish`."""

    def __init__(self, writer: ChunkWriter[T], depth: int = 2) -> None:
        self._writer = writer
        self._queue: queue.Queue[Sequence[T] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._drain, name="export-writer", daemon=True)
        self._thread.start()

    def submit(self, rows: Sequence[T]) -> None:
        """Queue a chunk (blocks while ``depth`` chunks wait); raises the writer's error."""
        while True:
            self._raise_if_failed()
            try:
                self._queue.put(rows, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """Write what is queued, close the file; raises the writer's error if it failed."""
        self._stop()
        self._raise_if_failed()

    def __enter__(self) -> BackgroundWriter[T]:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop()  # on an error too: the thread ends and the file is closed

    def _stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        while self._thread.is_alive():
            try:
                self._queue.put(_DONE, timeout=_POLL_SECONDS)
                break
            except queue.Full:
                continue
        self._thread.join()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _drain(self) -> None:
        try:
            while (rows := self._queue.get()) is not _DONE:
                self._writer.write_rows(rows)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            self._error = exc
            self._discard_queue()
        finally:
            self._close_writer()

    def _discard_queue(self) -> None:
        # after a failure keep taking chunks (so submit never blocks) until the end marker
        while self._queue.get() is not _DONE:
            pass

    def _close_writer(self) -> None:
        try:
            self._writer.close()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            if self._error is None:
                self._error = exc


def chunk_sink(writer: ChunkWriter[T], *,
               threaded: bool) -> BackgroundWriter[T] | InlineWriter[T]:
    """Where an export hands its chunks: a writer thread, or the caller's thread."""
    return BackgroundWriter(writer) if threaded else InlineWriter(writer)
