"""The services outside redemption stay on their ports: importing them loads no driver and
no adapter (directly or through another module), and none takes the ``Container`` (issue 17).

The import-linter contracts of pyproject.toml check the direct imports of every core module;
this test checks what importing the services actually loads."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SERVICE_PACKAGES = ("core/backoffice", "core/generation", "core/export")
SERVICE_MODULES = (
    "core/allocation.py", "core/cache_rebuild.py", "core/campaign_tenant.py",
    "core/campaigns.py", "core/compensation/jobs.py", "core/compensation/model.py",
    "core/compensation/ports.py", "core/compensation/service.py", "core/listing.py",
    "core/records.py", "core/service_ports.py", "core/settings.py", "core/tenants.py",
    "core/voiding.py",
)
FORBIDDEN = ("sqlalchemy", "pymysql", "MySQLdb", "redis", "confluent_kafka", "core.adapters",
             "core.bootstrap")


def _files() -> list[pathlib.Path]:
    files = [ROOT / m for m in SERVICE_MODULES]
    for package in SERVICE_PACKAGES:
        files += sorted((ROOT / package).glob("*.py"))
    return files


def _module(path: pathlib.Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def test_importing_the_services_loads_no_driver_and_no_adapter() -> None:
    modules = [_module(p) for p in _files()]
    script = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = {FORBIDDEN!r}\n"
        "print(sorted({k for k in sys.modules if k.split('.')[0] in bad[:5]"
        " or k.startswith(bad[5:])}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_service_takes_the_container() -> None:
    takers = []
    for path in _files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.arg) and node.annotation is not None \
                    and "Container" in ast.unparse(node.annotation):
                takers.append(f"{path.relative_to(ROOT)}: {node.arg}")
    assert takers == []
