"""The redemption domain stays on its ports: importing every module of core/redemption, in
a fresh interpreter, loads no driver, no adapter and not the wiring (issue 17). The
import-linter contract of pyproject.toml checks the direct imports; this checks what an
import actually loads (``import_probe``)."""

from __future__ import annotations

from tests.unit.import_probe import forbidden_loaded, redemption_modules


def test_importing_the_redemption_domain_loads_no_driver_and_no_adapter() -> None:
    modules = redemption_modules()
    assert "core.redemption.service" in modules and "core.redemption.verdict" in modules
    assert forbidden_loaded()["redemption"] == []
