"""What importing the domain actually loads, probed once per test session in a fresh
interpreter (the test process itself has loaded everything by then).

The interpreter imports the redemption domain (every module of core/redemption) and reports
the driver, adapter and wiring modules loaded; then the other services (``SERVICE_MODULES``
and ``SERVICE_PACKAGES``) and reports again. One interpreter serves both layering tests."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from functools import cache

ROOT = pathlib.Path(__file__).resolve().parents[2]
FORBIDDEN = ("sqlalchemy", "pymysql", "MySQLdb", "redis", "confluent_kafka", "core.adapters",
             "core.bootstrap")
SERVICE_PACKAGES = ("core/backoffice", "core/generation", "core/export")
SERVICE_MODULES = (
    "core/allocation.py", "core/cache_rebuild.py", "core/campaign_tenant.py",
    "core/campaigns.py", "core/compensation/jobs.py", "core/compensation/model.py",
    "core/compensation/ports.py", "core/compensation/service.py", "core/listing.py",
    "core/records.py", "core/service_ports.py", "core/settings.py", "core/tenants.py",
    "core/voiding.py",
)


def service_files() -> list[pathlib.Path]:
    """The service modules outside redemption, as files."""
    files = [ROOT / m for m in SERVICE_MODULES]
    for package in SERVICE_PACKAGES:
        files += sorted((ROOT / package).glob("*.py"))
    return files


def module_name(path: pathlib.Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def redemption_modules() -> list[str]:
    """Every module of core/redemption."""
    return sorted("core.redemption." + p.stem for p in (ROOT / "core/redemption").glob("*.py")
                  if p.stem != "__init__")


@cache
def forbidden_loaded() -> dict[str, list[str]]:
    """``{"redemption": [...], "services": [...]}``: the forbidden modules loaded after
    importing the redemption domain, and after importing the other services as well."""
    script = (
        "import importlib, json, sys\n"
        f"bad = {FORBIDDEN!r}\n"
        "def loaded(): return sorted(m for m in sys.modules if m.startswith(bad))\n"
        f"for m in {redemption_modules()!r}: importlib.import_module(m)\n"
        "found = {'redemption': loaded()}\n"
        f"for m in {[module_name(p) for p in service_files()]!r}: importlib.import_module(m)\n"
        "found['services'] = loaded()\n"
        "print(json.dumps(found))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    found: dict[str, list[str]] = json.loads(out.stdout)
    return found
