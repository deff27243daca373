"""A throwaway Redis Cluster on this machine, for tests, benchmarks and chaos runs.

``LocalRedisCluster(masters=3, replicas=1)`` starts ``redis-server --cluster-enabled yes``
nodes on free ports in a temporary directory, joins them with ``redis-cli --cluster create``
and waits until every node reports ``cluster_state:ok``. Nodes are killed with their
temporary directory on ``stop()`` (also at interpreter exit, and with the parent process on
Linux). ``kill_master`` / ``restart`` let a chaos run take a master away mid-run.

A short ``cluster-node-timeout`` makes failover fast (a replica is promoted ~2 s after its
master dies); persistence is off: this cluster holds a cache. A node restarted before its
replica was promoted comes back empty and as master (its replica then copies the empty
data set): a total loss of that shard's cache, which redeemflow must survive too.

Nodes are killed with the *thread* that started them (Linux ``PR_SET_PDEATHSIG`` follows
the thread): start and ``restart`` nodes from a thread that outlives them.
"""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import redis

from core.adapters.kafka.broker import find_free_port
from core.errors import CacheUnavailable, ConfigurationError

__all__ = ["ClusterNodeProcess", "LocalRedisCluster"]

_HOST = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Child pre-exec hook (Linux): SIGKILL the node if the process that spawned it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass
class ClusterNodeProcess:
    """One ``redis-server`` of the cluster."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """``127.0.0.1:port``."""
        return f"{_HOST}:{self.port}"

    def start(self, node_timeout_ms: int) -> None:
        """Start (or restart) the server; its nodes.conf keeps its cluster identity."""
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            _binary("redis-server"), "--port", str(self.port), "--bind", _HOST,
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(node_timeout_ms), "--dir", str(self.directory),
            "--save", "", "--appendonly", "no", "--protected-mode", "no",
            # replicas sync at once, and may always take over (the data is a cache)
            "--repl-diskless-sync-delay", "0", "--cluster-replica-validity-factor", "0",
            "--logfile", "redis.log",
        ]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent, start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the server (a crash: no shutdown, no goodbye to the cluster)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def alive(self) -> bool:
        """Whether the server process runs."""
        return self.process is not None and self.process.poll() is None

    def client(self) -> redis.Redis:
        """A plain client of this one node."""
        return redis.Redis(host=_HOST, port=self.port, socket_timeout=2, decode_responses=True)


class LocalRedisCluster:
    """``masters`` masters with ``replicas`` replicas each, on free ports; a context manager."""

    def __init__(
        self, masters: int = 3, replicas: int = 0, *, node_timeout_ms: int = 1000,
        startup_timeout: float = 30.0,
    ) -> None:
        if masters < 3:
            raise ConfigurationError("a Redis Cluster needs at least three masters")
        self._masters, self._replicas = masters, replicas
        self._node_timeout_ms = node_timeout_ms
        self._startup_timeout = startup_timeout
        self._root: Path | None = None
        self.nodes: list[ClusterNodeProcess] = []
        self._finalizer: weakref.finalize | None = None

    @property
    def url(self) -> str:
        """``redis+cluster://host:port,...`` naming every node (the REDEEMFLOW_REDIS_URL)."""
        return "redis+cluster://" + ",".join(n.address for n in self.nodes)

    def start(self) -> Self:
        """Start the nodes, create the cluster and wait until it serves every slot (again on
        fresh ports, a few times, when another process took a port meanwhile)."""
        for attempt in range(3):
            try:
                return self._start_once()
            except CacheUnavailable as exc:
                self.stop()
                if attempt == 2 or "Address already in use" not in str(exc):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _start_once(self) -> Self:
        self._root = Path(tempfile.mkdtemp(prefix="rf-redis-cluster-"))
        count = self._masters * (1 + self._replicas)
        self.nodes = [
            ClusterNodeProcess(port, self._root / str(port))
            for port in _free_ports(count)
        ]
        self._finalizer = weakref.finalize(self, _cleanup, list(self.nodes), self._root)
        for node in self.nodes:
            node.start(self._node_timeout_ms)
        for node in self.nodes:
            _wait_for_ping(node, self._startup_timeout)
        create = [
            _binary("redis-cli"), "--cluster", "create", *(n.address for n in self.nodes),
            "--cluster-replicas", str(self._replicas), "--cluster-yes",
        ]
        done = subprocess.run(
            create, capture_output=True, text=True, timeout=self._startup_timeout, check=False
        )
        if done.returncode != 0:
            self.stop()
            raise CacheUnavailable(f"redis-cli --cluster create failed: {done.stdout[-1500:]}")
        self.wait_until_ok(self._startup_timeout)
        return self

    def wait_until_ok(self, timeout: float = 30.0) -> None:
        """Block until every live node says ``cluster_state:ok`` and every replica is in
        sync with its master (so a master killed next can fail over)."""
        deadline = time.monotonic() + timeout
        while True:
            if self._all_ok():
                return
            if time.monotonic() > deadline:
                raise CacheUnavailable(f"redis cluster not ok after {timeout}s: {self.url}")
            time.sleep(0.1)

    def _all_ok(self) -> bool:
        try:
            for node in self.nodes:
                if not node.alive():
                    continue
                with node.client() as client:
                    info = client.cluster("INFO")
                    if info.get("cluster_state") != "ok":
                        return False
                    if int(info.get("cluster_slots_ok", 0)) != 16384:
                        return False
                    role = client.info("replication")
                    if role.get("role") == "slave" and role.get("master_link_status") != "up":
                        return False
            return True
        except redis.RedisError:
            return False

    def masters(self) -> list[ClusterNodeProcess]:
        """The live nodes that are masters now."""
        found = []
        for node in self.nodes:
            if not node.alive():
                continue
            with contextlib.suppress(redis.RedisError), node.client() as client:
                if client.info("replication").get("role") == "master":
                    found.append(node)
        return found

    def master_of(self, key: str) -> ClusterNodeProcess:
        """The node serving ``key``'s slot now (as the live nodes see it)."""
        for node in self.nodes:
            if not node.alive():
                continue
            with contextlib.suppress(redis.RedisError), node.client() as client:
                slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
                for start, end, primary, *_ in client.execute_command("CLUSTER", "SLOTS"):
                    if int(start) <= slot <= int(end):
                        return next(n for n in self.nodes if n.port == int(primary[1]))
        raise CacheUnavailable(f"no live node knows who serves {key!r}")

    def restart(self, node: ClusterNodeProcess) -> None:
        """Start a killed node again; it rejoins (as a replica if it was failed over)."""
        node.start(self._node_timeout_ms)
        _wait_for_ping(node, self._startup_timeout)

    def stop(self) -> None:
        """Kill every node and delete the directory; idempotent."""
        if self._finalizer is not None:
            self._finalizer()
        self._finalizer = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ConfigurationError(f"{name} is not installed: no local Redis Cluster")
    return found


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free ports whose cluster bus ports (+10000) are free too."""
    ports: list[int] = []
    while len(ports) < count:
        port = find_free_port()
        taken = {*ports, *(p + 10000 for p in ports)}
        if port + 10000 < 65536 and not {port, port + 10000} & taken and _bindable(port + 10000):
            ports.append(port)
    return ports


def _bindable(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((_HOST, port))
        except OSError:
            return False
    return True


def _wait_for_ping(node: ClusterNodeProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with node.client() as client:
                client.ping()
                return
        except redis.RedisError as exc:
            if not node.alive() or time.monotonic() > deadline:
                log = node.directory / "redis.log"
                tail = log.read_text()[-1500:] if log.exists() else ""
                raise CacheUnavailable(f"redis node {node.address} did not start: {tail}") from exc
            time.sleep(0.05)


def _cleanup(nodes: list[ClusterNodeProcess], root: Path) -> None:
    """Finalizer body: kill every node, remove the directory."""
    for node in nodes:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            node.kill()
    shutil.rmtree(root, ignore_errors=True)
