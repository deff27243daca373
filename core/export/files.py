"""File steps of an export: the temporary path, fsync + sha256, the final rename.

The file is written under a hidden temporary name next to the output (same directory, so
the final ``os.replace`` is an atomic rename on one file system), made durable with
``fsync`` and hashed *before* the database commit; it is renamed into place only *after*
the commit. See ``docs/export-and-allocation.md`` for why this order.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

_BLOCK = 1 << 20
#: Bytes per chunk handed to a web response by :func:`read_chunks`.
DOWNLOAD_CHUNK = 1 << 16


def temp_path(output: Path, export_id: str) -> Path:
    """Where an export is written before it is committed: ``.<name>.<export_id>.part``."""
    return output.parent / f".{output.name}.{export_id}.part"


def fsync_and_hash(path: Path) -> str:
    """Flush the file to stable storage and return its sha256 (hex)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
        os.fsync(handle.fileno())
    return digest.hexdigest()


def publish(temp: Path, output: Path) -> None:
    """Rename the committed file into place and make the rename durable."""
    os.replace(temp, output)
    fd = os.open(output.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def discard(path: Path) -> None:
    """Delete a file that must not survive (an export that was not committed)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def read_chunks(path: Path | str, chunk_size: int = DOWNLOAD_CHUNK, *,
                remove: bool = False) -> Iterator[bytes]:
    """A committed export file, ``chunk_size`` bytes at a time (what a streaming web
    response consumes); with ``remove`` the file is deleted when the iteration ends or the
    iterator is closed (a client that disconnects), so a served download leaves nothing."""
    try:
        with Path(path).open("rb") as handle:
            while block := handle.read(chunk_size):
                yield block
    finally:
        if remove:
            discard(Path(path))
