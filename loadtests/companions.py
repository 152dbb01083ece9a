"""The other workers, for loadtests/cpu_ratio.py: processes running the same checkout's
app on the same database, serving nothing. Their background loops (audit sealer, live
hub, velocity watcher, search outbox) still run, so the CPU a request costs the workers
that did not serve it (a post's velocity recompute, its live wake-ups) is counted too.

Each runs this file (not the checkout's copy: older checkouts have none) with the
checkout on PYTHONPATH, like cpu_ratio's own child processes.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import psutil  # type: ignore[import-untyped]

HERE = Path(__file__).resolve()


def app_env(url: str) -> dict[str, str]:
    """The environment a measured app reads its settings from."""
    from cryptography.fernet import Fernet

    return {
        **os.environ,
        "JIGSAW_DATABASE_URL": url,
        "JIGSAW_SECRET_KEY": "ratio" * 10,
        "JIGSAW_MFA_KEYS": Fernet.generate_key().decode(),
    }


class Companions:
    """`count` idle workers of the app in the current PYTHONPATH's checkout."""

    def __init__(self, count: int, url: str) -> None:
        self.count = count
        self.url = url
        self.processes: list[subprocess.Popen[str]] = []

    def start(self) -> None:
        code = f"import runpy; runpy.run_path({str(HERE)!r}, run_name='__main__')"
        for _ in range(self.count):
            process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
                [sys.executable, "-c", code, self.url], stdout=subprocess.PIPE, text=True
            )
            self.processes.append(process)
        for process in self.processes:
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError("a companion worker did not start")

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the companions used so far, together."""
        total = 0.0
        for process in self.processes:
            times = psutil.Process(process.pid).cpu_times()
            total += float(times.user + times.system)
        return total

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(30)


async def _idle(url: str) -> None:
    import logging

    from server.app import create_app
    from server.settings import load_settings

    logging.disable(logging.INFO)  # the sealer's checkpoint lines
    app = create_app(load_settings(app_env(url)))
    async with app.router.lifespan_context(app):
        print("ready", flush=True)
        await asyncio.Event().wait()  # until terminated


if __name__ == "__main__":
    asyncio.run(_idle(sys.argv[1]))
