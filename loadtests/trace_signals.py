"""The measuring side of loadtests/traced_app.py: ask a worker for its dump (SIGUSR1) and
wait for the files it writes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any


def _files(folder: Path) -> set[Path]:
    return set(folder.iterdir())


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


async def request_dump(pid: int, folder: Path) -> tuple[Path | None, dict[str, Any]]:
    """The worker's tracemalloc snapshot (None when not tracing) and GC statistics."""
    before = _files(folder)
    os.kill(pid, signal.SIGUSR1)
    for _ in range(1200):
        await asyncio.sleep(0.25)
        new = _files(folder) - before
        stats = [p for p in new if p.name.endswith(".gc.json")]
        snaps = [p for p in new if p.suffix == ".snap"]
        if stats:  # written after the snapshot
            return (snaps[0] if snaps else None), _read_json(stats[0])
    raise RuntimeError(f"worker {pid} wrote no dump")


def pauses_between(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Collections per generation between two dumps, with their total and longest pause
    (the longest over the whole run: a maximum cannot be differenced)."""
    parts = []
    for gen, now in after["pauses"].items():
        then = before["pauses"][gen]
        count, total = now["count"] - then["count"], now["total_ms"] - then["total_ms"]
        parts.append(f"{gen} {count}x {total:.0f} ms (longest ever {now['max_ms']:.0f} ms)")
    return "; ".join(parts)
