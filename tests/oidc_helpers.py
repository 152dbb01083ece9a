"""A real OpenID Connect provider for the single sign-on tests (tests/oidc_provider/: the
npm package oidc-provider on Node), and a browser's walk through its sign-in.

The provider is installed once (`npm ci`) into a cache directory outside the checkout,
keyed by the lock file and server.js, and started on a free loopback port. Without node
or npm the tests FAIL with a clear message: CI installs them (.ci/run).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import html
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

SOURCE = Path(__file__).resolve().parent / "oidc_provider"
FILES = ("package.json", "package-lock.json", "server.js")
CLIENT_ID = "jigsaw"
CLIENT_SECRET = "jigsaw-test-secret"
APP_BASE = "http://testserver"  # the app under test, in-process (tests/conftest.py)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"`{name}` is not installed: the single sign-on tests run a real OpenID provider "
            "on Node (apt-get install nodejs npm; CI installs them in .ci/run)",
            pytrace=False,
        )
    return found


def _cache_root() -> Path:
    default = Path.home() / ".cache" / "jigsaw-tests"
    return Path(os.environ.get("JIGSAW_TEST_CACHE_DIR", default))


def installed_provider() -> Path:
    """The provider's directory with node_modules in place (npm ci once per version)."""
    npm = _tool("npm")
    key = hashlib.sha256(b"".join((SOURCE / name).read_bytes() for name in FILES)).hexdigest()
    target = _cache_root() / f"oidc-provider-{key[:16]}"
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one install at a time
        if not (target / "node_modules" / "oidc-provider").is_dir():
            for name in FILES:
                shutil.copyfile(SOURCE / name, target / name)
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=target,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0:
                pytest.fail(f"npm ci for the test OpenID provider failed:\n{done.stderr[-2000:]}")
    return target


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_up(issuer: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"the test OpenID provider exited:\n{output[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).is_success:
                return
        time.sleep(0.1)
    pytest.fail("the test OpenID provider did not answer within 30 s")


@contextlib.contextmanager
def running_provider() -> Iterator[str]:
    """Start the provider (one client, PKCE required, test accounts); yields its issuer."""
    node = _tool("node")
    directory = installed_provider()
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "REDIRECT_URIS": f"{APP_BASE}/auth/oidc/callback",
        "POST_LOGOUT_REDIRECT_URIS": f"{APP_BASE}/login",
    }
    process = subprocess.Popen(
        [node, "server.js"],
        cwd=directory,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(issuer, process)
        yield issuer
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def form_of(page: str) -> tuple[str, dict[str, str]]:
    """The first form's action and its named inputs (hidden values, empty others)."""
    action = re.search(r'<form[^>]*action="([^"]*)"', page)
    assert action, f"no form in the provider's page:\n{page[:500]}"
    fields = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[name.group(1)] = html.unescape(value.group(1)) if value else ""
    return html.unescape(action.group(1)), fields


async def at_provider(browser: httpx.AsyncClient, url: str, **form: str) -> str:
    """Follow the provider's redirects, filling its forms with `form`, until it sends the
    browser back to the app; returns that address (path and query, for the app client)."""
    response = await browser.get(url)
    for _ in range(20):
        if response.is_redirect:
            location = str(response.next_request.url) if response.next_request else ""
            if location.startswith(APP_BASE):
                parts = urlsplit(location)
                return f"{parts.path}?{parts.query}" if parts.query else parts.path
            response = await browser.get(location)
            continue
        assert response.status_code == 200, response.text[:500]
        action, fields = form_of(response.text)
        fields.update(form)
        response = await browser.post(str(response.url.join(action)), data=fields)
    raise AssertionError("the provider never sent the browser back")
