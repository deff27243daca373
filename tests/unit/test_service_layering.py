"""The services outside redemption stay on their ports: importing them loads no driver and
no adapter (directly or through another module), and none takes the ``Container`` (issue 17).

The import-linter contracts of pyproject.toml check the direct imports of every core module;
this test checks what importing the services actually loads (``import_probe``)."""

from __future__ import annotations

import ast

from tests.unit.import_probe import ROOT, forbidden_loaded, service_files


def test_importing_the_services_loads_no_driver_and_no_adapter() -> None:
    assert forbidden_loaded()["services"] == []


def test_no_service_takes_the_container() -> None:
    takers = []
    for path in service_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.arg) and node.annotation is not None \
                    and "Container" in ast.unparse(node.annotation):
                takers.append(f"{path.relative_to(ROOT)}: {node.arg}")
    assert takers == []
