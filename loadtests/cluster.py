"""Several Jigsaw host groups behind one HAProxy, sharing only PostgreSQL.

    python -m loadtests.cluster --hosts 2 --workers 2 [--demo] [--database-url URL]

Each host group is one `jigsaw serve --workers N` process tree with its own data
directory and, when run as root with `ip netns`, its own network namespace: the balancer
reaches it over a veth pair, and it reaches PostgreSQL over the Unix socket (the only
thing the groups share). Without namespaces the groups listen on distinct loopback
ports. One HAProxy config is generated into the cluster's temp directory: `balance
leastconn`, health checks on /healthz, `timeout tunnel` for websockets, and `retry-on` +
`option redispatch` so a request that hit a dead host is retried on a live one (safe for
posts: they carry idempotency keys). Used by loadtests/failover_drill.py.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from cryptography.fernet import Fernet

from loadtests.pg_private import free_port

ROOT = Path(__file__).resolve().parents[1]
PG_SOCKET_DIR = Path("/var/run/postgresql")
HOST_PORT = 8000  # inside a namespace every group can use the same port


class ClusterError(RuntimeError):
    """The cluster cannot be started as asked (no HAProxy, a host that never got healthy)."""


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if found is None:
        raise ClusterError("haproxy is not installed (Debian: apt-get install -y haproxy)")
    return found


def namespaces_available() -> bool:
    """Root with `ip netns` and PostgreSQL's Unix socket on this machine."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    return any(PG_SOCKET_DIR.glob(".s.PGSQL.*"))


def unix_socket_url(database_url: str) -> str:
    """The same database through PostgreSQL's Unix socket (reachable from any namespace)."""
    parts = urlsplit(database_url)
    user = parts.username or "postgres"
    port = parts.port or 5432
    query = f"host={PG_SOCKET_DIR}&port={port}"
    return urlunsplit((parts.scheme, f"{user}@", parts.path, query, ""))


def _ip(*args: str) -> None:
    ip = shutil.which("ip") or "/usr/sbin/ip"
    subprocess.run([ip, *args], check=True, capture_output=True, timeout=10)  # noqa: S603 - fixed arguments


@dataclass
class HostGroup:
    """One `jigsaw serve` process tree: what the balancer calls `name`."""

    name: str
    address: str  # where the balancer reaches it
    port: int
    data_dir: Path
    balancer_side: str  # the balancer's address as this group sees it (trusted proxy)
    namespace: str | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def create_namespace(self, subnet: str, index: int) -> None:
        """A namespace with its own loopback and a veth pair to the balancer's side."""
        assert self.namespace is not None
        outside, inside = f"{self.namespace}o", f"{self.namespace}i"
        _ip("netns", "add", self.namespace)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", self.namespace)
        _ip("addr", "add", f"{subnet}.{4 * index + 1}/30", "dev", outside)
        _ip("link", "set", outside, "up")
        inns = ("netns", "exec", self.namespace, "ip")
        _ip(*inns, "addr", "add", f"{subnet}.{4 * index + 2}/30", "dev", inside)
        _ip(*inns, "link", "set", inside, "up")
        _ip(*inns, "link", "set", "lo", "up")

    def delete_namespace(self) -> None:
        if self.namespace is not None:
            with contextlib.suppress(subprocess.CalledProcessError):
                _ip("netns", "delete", self.namespace)  # takes its veth pair with it

    def start(self, env: dict[str, str], workers: int) -> None:
        serve = [
            sys.executable,
            "-c",
            "from server.cli import main; main()",
            "serve",
            "--host",
            self.address,
            "--port",
            str(self.port),
            "--workers",
            str(workers),
        ]
        ip = shutil.which("ip") or "/usr/sbin/ip"
        command = [ip, "netns", "exec", self.namespace, *serve] if self.namespace else serve
        log = (self.data_dir / "serve.log").open("ab")
        # Its own session: kill -9 of the process group takes the whole tree (master and
        # uvicorn's worker processes) at once, as a host dying would.
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
            command, env=env, cwd=ROOT, stdout=log, stderr=log, start_new_session=True
        )
        log.close()

    def kill(self) -> None:
        """kill -9 the whole process tree, then reap the leader."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Cluster:
    """N host groups + HAProxy on one PostgreSQL database (already migrated)."""

    database_url: str
    hosts: int = 2
    workers: int = 1
    isolation: str = "auto"  # auto | netns | loopback
    demo: bool = False
    keep: bool = False  # keep the directory (config, logs) after stop
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="jigsaw-")))
    balancer_port: int = field(default_factory=free_port)
    groups: list[HostGroup] = field(default_factory=list)
    haproxy: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.balancer_port}"

    @property
    def uses_namespaces(self) -> bool:
        return any(group.namespace for group in self.groups)

    def start(self, timeout: float = 60.0) -> None:
        binary = haproxy_binary()  # fail before starting anything
        try:
            self._make_groups()
            env = self._environment()
            for group in self.groups:
                group.start(self._group_env(env, group), self.workers)
            for group in self.groups:
                self._wait_healthy(group, timeout)
            config = self.directory / "haproxy.cfg"
            config.write_text(haproxy_config(self))
            log = (self.directory / "haproxy.log").open("ab")
            self.haproxy = subprocess.Popen(  # noqa: S603 - HAProxy with our generated config
                [binary, "-db", "-f", str(config)], stdout=log, stderr=log, start_new_session=True
            )
            log.close()
            self.wait_balanced(timeout)
        except BaseException:
            self.stop()
            raise

    def _make_groups(self) -> None:
        netns = self.isolation == "netns" or (self.isolation == "auto" and namespaces_available())
        if self.isolation == "netns" and not namespaces_available():
            raise ClusterError("network namespaces need root, `ip` and a local PostgreSQL")
        tag = secrets.token_hex(2)
        subnet = f"10.213.{secrets.randbelow(256)}"
        for index in range(self.hosts):
            data_dir = self.directory / f"host{index + 1}"
            data_dir.mkdir(parents=True)
            if netns:
                group = HostGroup(
                    name=f"host{index + 1}",
                    address=f"{subnet}.{4 * index + 2}",
                    port=HOST_PORT,
                    data_dir=data_dir,
                    balancer_side=f"{subnet}.{4 * index + 1}",
                    namespace=f"jg{tag}h{index + 1}",
                )
                self.groups.append(group)
                group.create_namespace(subnet, index)
            else:
                self.groups.append(
                    HostGroup(f"host{index + 1}", "127.0.0.1", free_port(), data_dir, "127.0.0.1")
                )

    def _environment(self) -> dict[str, str]:
        """What every group shares: the database, the secrets, the audit key and where the
        signed checkpoints go (shared storage in a real deployment)."""
        shared = self.directory / "shared"
        shared.mkdir(exist_ok=True)
        secret = os.environ.get("JIGSAW_SECRET_KEY") or secrets.token_urlsafe(32)
        audit_key = base64.b64encode(secrets.token_bytes(32)).decode()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "JIGSAW_SECRET_KEY": secret,
            "JIGSAW_MFA_KEYS": os.environ.get("JIGSAW_MFA_KEYS") or Fernet.generate_key().decode(),
            "JIGSAW_AUDIT_SIGNING_KEY": os.environ.get("JIGSAW_AUDIT_SIGNING_KEY") or audit_key,
            "JIGSAW_AUDIT_CHECKPOINT_FILE": str(shared / "audit-checkpoints.jsonl"),
        }
        if self.demo:
            env["JIGSAW_DEMO"] = "1"
        return env

    def _group_env(self, env: dict[str, str], group: HostGroup) -> dict[str, str]:
        url = unix_socket_url(self.database_url) if group.namespace else self.database_url
        return {
            **env,
            "JIGSAW_DATABASE_URL": url,
            "JIGSAW_DATA_DIR": str(group.data_dir),
            "JIGSAW_TRUSTED_PROXIES": group.balancer_side,
        }

    def _wait_healthy(self, group: HostGroup, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=group.base_url, timeout=2) as http:
            while time.monotonic() < deadline:
                if not group.alive:
                    raise ClusterError(f"{group.name} exited; see {group.data_dir}/serve.log")
                with contextlib.suppress(httpx.TransportError):
                    if http.get("/healthz").status_code == 200:
                        return
                time.sleep(0.2)
        raise ClusterError(f"{group.name} not healthy after {timeout:.0f} s")

    def wait_balanced(self, timeout: float = 30.0) -> None:
        """Until HAProxy's health checks say every live group is up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.haproxy is not None and self.haproxy.poll() is not None:
                raise ClusterError(f"haproxy exited; see {self.directory}/haproxy.log")
            states = self.server_states()
            wanted = {g.name for g in self.groups if g.alive}
            if wanted and all(states.get(name) == "UP" for name in wanted):
                return
            time.sleep(0.2)
        raise ClusterError(f"HAProxy did not see every host up: {self.server_states()}")

    def stats(self) -> list[dict[str, str]]:
        """HAProxy's `show stat` rows for the host groups (status, sessions, ...)."""
        answer = self._admin("show stat")
        lines = answer.lstrip("# ").splitlines()
        if not lines:
            return []
        header = lines[0].split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
        return [row for row in rows if row.get("pxname") == "hosts" and row["svname"] != "BACKEND"]

    def server_states(self) -> dict[str, str]:
        return {row["svname"]: row["status"].split(" ")[0] for row in self.stats()}

    def _admin(self, command: str) -> str:
        path = self.directory / "haproxy.sock"
        try:
            with socket.socket(socket.AF_UNIX) as admin:
                admin.settimeout(2)
                admin.connect(str(path))
                admin.sendall(command.encode() + b"\n")
                chunks = []
                while chunk := admin.recv(65536):
                    chunks.append(chunk)
        except OSError:
            return ""
        return b"".join(chunks).decode()

    def kill(self, index: int) -> None:
        """kill -9 one host group's whole process tree."""
        self.groups[index].kill()

    def stop(self) -> None:
        for group in self.groups:
            group.kill()
        if self.haproxy is not None and self.haproxy.poll() is None:
            self.haproxy.terminate()
            self.haproxy.wait(timeout=10)
        for group in self.groups:
            group.delete_namespace()
        if not self.keep:
            shutil.rmtree(self.directory, ignore_errors=True)


def haproxy_config(cluster: Cluster) -> str:
    servers = "\n".join(
        f"    server {group.name} {group.address}:{group.port} check" for group in cluster.groups
    )
    return HAPROXY_TEMPLATE.format(
        directory=cluster.directory, port=cluster.balancer_port, servers=servers
    )


HAPROXY_TEMPLATE = """\
global
    maxconn 8000
    stats socket {directory}/haproxy.sock mode 600 level admin
    # Hosts going down and up (notice and above: no per-request lines).
    log stderr format raw local0 notice

defaults
    mode http
    log global
    option forwardfor
    # The whole request is read before a host is chosen, so a post can be sent again.
    option http-buffer-request
    # A request that met a dead host is sent again at once to another host (redispatch on
    # every retry). Posts carry Idempotency-Key, so a retried post is stored once.
    option redispatch 1
    retries 3
    retry-on conn-failure empty-response response-timeout
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout queue 10s
    # A killed host refuses at once; a busy one (500 sockets reconnecting to it) may be
    # slow to answer /healthz, and must not be taken out for it: no host left means 503s.
    timeout check 5s
    # An upgraded websocket is a tunnel: idle for up to an hour between events.
    timeout tunnel 1h
    timeout client-fin 5s

frontend jigsaw
    bind 127.0.0.1:{port}
    default_backend hosts

backend hosts
    balance leastconn
    option httpchk GET /healthz
    http-check expect status 200
    # Health checks find a dead host within about a second: a refused connection counts
    # as failed checks but one (passive), and the next failed check marks it down. (Not
    # `mark-down`: one slow connect to the busy survivor would leave no host at all.)
    default-server inter 1s fastinter 250ms downinter 1s fall 3 rise 2 maxconn 10000
    default-server observe layer4 error-limit 1 on-error sudden-death
{servers}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--isolation", choices=["auto", "netns", "loopback"], default="auto")
    parser.add_argument("--demo", action="store_true", help="Seed demo data once, first.")
    parser.add_argument("--database-url", help="Default: a fresh database, dropped at exit.")
    args = parser.parse_args()
    import asyncio

    from feeds.db import migrate_database
    from loadtests.pgdb import create_database, drop_database

    url = args.database_url or asyncio.run(create_database("jigsaw_cluster"))
    try:
        asyncio.run(migrate_database(url))
        if args.demo:
            seed = [sys.executable, "-c", "from server.cli import main; main()", "demo"]
            env = {**os.environ, "JIGSAW_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
            subprocess.run(seed, env=env, cwd=ROOT, check=True)  # noqa: S603 - our interpreter
        cluster = Cluster(url, args.hosts, args.workers, args.isolation, demo=args.demo)
        cluster.start()
        how = "network namespaces" if cluster.uses_namespaces else "loopback ports"
        print(f"{args.hosts} host groups ({how}) behind HAProxy: {cluster.url} (Ctrl+C stops)")
        print(f"config and logs: {cluster.directory}")
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
        finally:
            cluster.stop()
    finally:
        if not args.database_url:
            asyncio.run(drop_database(url))


if __name__ == "__main__":
    main()
