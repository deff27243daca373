"""The LOAD DATA file generation writes (core/adapters/mysql/code_store.load_file): one
``id TAB lookup TAB seal TAB mask`` line per row, ids as given, built without a service."""

from __future__ import annotations

import pytest

from core.adapters.mysql.code_store import load_file
from core.codes.protection import ProtectedCode, ProtectedRows


def test_one_line_per_row_with_its_id() -> None:
    rows = ProtectedRows.of([ProtectedCode("~aa", "c2Vh", "AB**"),
                             ProtectedCode("~bb", "bA==", "CD**")])
    assert load_file(range(41, 43), rows) == b"41\t~aa\tc2Vh\tAB**\n42\t~bb\tbA==\tCD**\n"
    assert load_file([7, 3], rows).splitlines()[1] == b"3\t~bb\tbA==\tCD**"
    assert load_file([], ProtectedRows([], [], [])) == b""


def test_ids_and_rows_must_pair_up() -> None:
    rows = ProtectedRows.of([ProtectedCode("~aa", "c2Vh", "AB**")])
    with pytest.raises(ValueError, match="2 ids for 1 rows"):
        load_file([1, 2], rows)
