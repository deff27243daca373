"""Benchmark: back-office pages of a campaign with N codes (default 1M), over real HTTP.

Builds a throwaway stack (database, Redis prefix, embedded broker), generates N codes for
one campaign through ``core.generation``, exports 10,000 of them and marks 200 as granted
(spread over the id range), then serves the back office in its own process
(``redeemflow admin``) and times each page: the first request (cold: the dashboard's and
campaign page's code counts are then computed, later ones reuse them for
``admin_counts_cache_seconds``), then wall milliseconds (median, p95) as the client sees
them, and the server process's CPU milliseconds per request (from /proc).

    python bench/admin_pages.py [--count 1000000] [--repeat 15] [--json]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._cpu import cpu_seconds
from bench._stack import throwaway_stack
from core.bootstrap import Container, bootstrap
from core.export import export_codes
from core.settings import Settings, child_environment
from schemas.campaign import CreateCampaignRequest
from schemas.events import TenantStatus, TenantType, TenantUpdated

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password-123"
RULE = {"codeType": "RANDOM_ALPHANUM", "length": 12, "validDays": 30,
        "rewardRules": [{"type": "COUPON", "id": "BENCH"}]}
console = Console(stderr=True)


def _seed(container: Container, count: int) -> tuple[str, str]:
    """Tenant, operator, campaign with ``count`` codes; returns (campaign, a code)."""
    container.tenants.apply_update(TenantUpdated(
        tenant_id="BENCH", name="bench", type=TenantType.CHANNEL, status=TenantStatus.ACTIVE,
        code_quota=10**9, version=1))
    operator, _ = container.backoffice.operators.create("BENCH", "bench@example.com", "admin",
                                                        PASSWORD)
    container.campaigns.create(CreateCampaignRequest.model_validate({
        "campaign_id": "bench-1m", "tenant_id": "BENCH", "product_code": "APP_A",
        "name": "bench", "rule": RULE}))
    started = time.perf_counter()
    container.generation.generate_codes("BENCH", "bench-1m", count, account_id=operator.operator_id)
    console.print(f"generated {count:,} codes in {time.perf_counter() - started:.1f}s")
    with tempfile.TemporaryDirectory() as directory:
        export_codes(container.exporter, "BENCH", "bench-1m", operator.operator_id, min(10_000,
                     count),
                     "csv", Path(directory) / "x.csv")
    step = max(1, count // 200)
    with container.engine.begin() as conn:
        conn.execute(text("UPDATE redeem_codes SET status = 2, used_count = 1,"
                          " act_user_id = 'u1', act_time = NOW(6) WHERE tenant_id = 'BENCH'"
                          " AND campaign_id = 'bench-1m' AND MOD(id, :s) = 0"), {"s": step})
        stored, key_id, sealed = conn.execute(text(
            "SELECT code, code_key_id, code_sealed FROM redeem_codes WHERE tenant_id = 'BENCH'"
            " ORDER BY id DESC LIMIT 1")).one()
    # MySQL holds the code's lookup and seal: the support lookup needs the code itself
    code = container.settings.code_protector.reveal("BENCH", stored, key_id, sealed)
    return "bench-1m", code


LOG = Path(tempfile.gettempdir()) / "redeemflow-bench-admin.log"


def _serve(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    with LOG.open("wb") as log:
        child = subprocess.Popen([sys.executable, "-m", "cli.main", "admin", "--port",
                                  str(port)], cwd=ROOT, env=child_environment(settings),
                                 stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return child
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            child.kill()
            raise SystemExit("the back office did not start")
        time.sleep(0.2)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _login(client: httpx.Client) -> str:
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    answer = client.post("/login", data={"csrf_token": token.group(1),
                                         "email": "bench@example.com", "password": PASSWORD})
    assert answer.status_code == 303, answer.text[:300]
    home = client.get("/").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home)
    assert csrf
    return csrf.group(1)


def _measure(client: httpx.Client, pid: int, repeat: int, method: str, path: str,
             data: dict[str, str] | None = None) -> dict[str, float]:
    started = time.perf_counter()
    client.request(method, path, data=data)  # the first request: cold caches
    cold = (time.perf_counter() - started) * 1000
    times = []
    cpu_before = cpu_seconds(pid)
    for _ in range(repeat):
        started = time.perf_counter()
        answer = client.request(method, path, data=data)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    cpu = (cpu_seconds(pid) - cpu_before) * 1000 / repeat
    times.sort()
    return {"first_ms": round(cold, 1), "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
            "server_cpu_ms": round(cpu, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with throwaway_stack(partitions=1) as settings, bootstrap(settings) as container:
        campaign, code = _seed(container, args.count)
        port = _free_port()
        server = _serve(settings, port)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                csrf = _login(client)
                base = f"/campaigns/{campaign}/codes"
                pages = {
                    "codes, first page": ("GET", base, None),
                    "codes, page after id 990,000": ("GET", f"{base}?after=990000", None),
                    "codes, exported only": ("GET", f"{base}?exported=yes", None),
                    "codes, unused + not exported": ("GET", f"{base}?status=unused&exported=no",
                                                     None),
                    "codes, granted only (200 of N)": ("GET", f"{base}?status=granted", None),
                    "support lookup": ("POST", "/lookup", {"csrf_token": csrf, "code": code}),
                    "campaign detail (counts)": ("GET", f"/campaigns/{campaign}", None),
                    "dashboard": ("GET", "/", None),
                }
                figures = {name: _measure(client, server.pid, args.repeat, method, path, data)
                           for name, (method, path, data) in pages.items()}
        finally:
            server.terminate()
            server.wait(20)
    if args.json:
        import orjson

        sys.stdout.write(orjson.dumps({"count": args.count, "pages": figures}).decode() + "\n")
        return
    table = Table(title=f"back-office pages, campaign of {args.count:,} codes")
    for column in ("page", "first ms", "median ms", "p95 ms", "server CPU ms/request"):
        table.add_column(column, justify="right" if column != "page" else "left")
    for name, row in figures.items():
        table.add_row(name, str(row["first_ms"]), str(row["median_ms"]), str(row["p95_ms"]),
                      str(row["server_cpu_ms"]))
    Console().print(table)


if __name__ == "__main__":
    main()
