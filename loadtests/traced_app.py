"""An ASGI app (JIGSAW_TRACED_APP, e.g. `server.asgi:app`) wrapped for measuring: with
JIGSAW_TRACEMALLOC=<frames> tracemalloc runs once the app is imported, and on SIGUSR1 the
worker writes a snapshot and its garbage collector's pauses to JIGSAW_TRACE_DIR. Used by
loadtests/live_memory.py and `live_bench --gc-stats`; never by `jigsaw serve`.

    JIGSAW_TRACED_APP=server.asgi:app uvicorn loadtests.traced_app:app --workers 1
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import signal
import time
import tracemalloc
from pathlib import Path
from types import FrameType
from typing import Any

FRAMES = int(os.environ.get("JIGSAW_TRACEMALLOC", "0"))

_module, _, _name = os.environ.get("JIGSAW_TRACED_APP", "server.asgi:app").partition(":")
app: Any = getattr(importlib.import_module(_module), _name)
if FRAMES:  # after the import, which tracing slows by minutes; snapshots are compared
    tracemalloc.start(FRAMES)

_pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
_started: list[float] = [0.0]


def _time_collections(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        _pauses[info["generation"]].append(time.perf_counter() - _started[0])


def _dump(signum: int, frame: FrameType | None) -> None:
    """Write a tracemalloc snapshot if tracing, then the garbage collector's pauses so far."""
    out = Path(os.environ.get("JIGSAW_TRACE_DIR", "."))
    stamp = f"{os.getpid()}-{time.monotonic_ns()}"
    pauses = {
        f"gen{g}": {"count": len(p), "total_ms": 1000 * sum(p), "max_ms": 1000 * max(p, default=0)}
        for g, p in _pauses.items()
    }
    stats = {"pauses": pauses, "tracked_objects": len(gc.get_objects())}
    if FRAMES:
        tracemalloc.take_snapshot().dump(str(out / f"{stamp}.snap"))
    (out / f"{stamp}.gc.json").write_text(json.dumps(stats))  # last: says the dump is done


gc.callbacks.append(_time_collections)
signal.signal(signal.SIGUSR1, _dump)
