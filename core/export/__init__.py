"""Exporting codes to files (seed 002 §3 and §5): streamed, audited, owner-checked."""

from core.export.files import read_chunks
from core.export.service import (
    DEFAULT_CHUNK,
    Exporter,
    ExportJob,
    ExportResult,
    NotEnoughCodes,
    export_codes,
)
from core.export.writers import HEADER, ExportFormat

__all__ = [
    "DEFAULT_CHUNK",
    "HEADER",
    "ExportFormat",
    "ExportJob",
    "ExportResult",
    "Exporter",
    "NotEnoughCodes",
    "export_codes",
    "read_chunks",
]
