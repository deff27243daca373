"""The redemption domain stays on its ports: importing every module of core/redemption, in
a fresh interpreter, loads no driver, no adapter and not the wiring (issue 17). The
import-linter contract of pyproject.toml checks the direct imports; this checks what an
import actually loads."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
FORBIDDEN = ("sqlalchemy", "pymysql", "MySQLdb", "redis", "confluent_kafka", "core.adapters",
             "core.bootstrap")


def test_importing_the_redemption_domain_loads_no_driver_and_no_adapter() -> None:
    modules = sorted(
        "core.redemption." + p.stem for p in (ROOT / "core/redemption").glob("*.py")
        if p.stem != "__init__"
    )
    assert "core.redemption.service" in modules and "core.redemption.verdict" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print('\\n'.join(m for m in sys.modules if m.startswith({FORBIDDEN!r})))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []
