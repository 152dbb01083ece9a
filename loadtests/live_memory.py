"""Where a websocket's server memory goes: tracemalloc snapshots of one worker at two
socket counts, the difference divided by the sockets added, by allocation site.

    python -m loadtests.live_memory --first 1000 --more 4000 [--frames 8] [--bare]

Jigsaw (or, with --bare, loadtests/bare_live.py) runs in one uvicorn worker with the
websocket settings `jigsaw serve` uses, wrapped by loadtests/traced_app.py. The readers
run in processes of their own. Reports RSS and traced bytes per added socket, the top
allocation sites, and the garbage collector's pauses while the sockets opened.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from loadtests.live_bench import STOCK_WS_FLAGS, _recv, _spawn, rss_kib, seed, start_server
from loadtests.live_clients import Target, readers_main
from loadtests.pgdb import create_database, drop_database
from loadtests.trace_signals import request_dump
from server.cli import uvicorn_ws_flags

SETTLE = 3.0  # seconds after the last handshake before measuring


async def _open(targets: list[Target]) -> tuple[Any, Any]:
    process, control = _spawn(readers_main, targets)
    message = await _recv(control)
    if message[0] != "opened":
        raise RuntimeError(f"a reader process failed: {message!r}")
    return process, control


def _site(frame: tracemalloc.Frame) -> str:
    parts = Path(frame.filename).parts
    short = "/".join(
        parts[parts.index("site-packages") + 1 :] if "site-packages" in parts else parts[-2:]
    )
    return f"{short}:{frame.lineno}"


def compare(first: Path, second: Path, added: int, top: int) -> None:
    """Per added socket: traced bytes in all, then by line and by call path."""
    old, new = tracemalloc.Snapshot.load(str(first)), tracemalloc.Snapshot.load(str(second))
    by_line = new.compare_to(old, "lineno")
    total = sum(d.size_diff for d in by_line)
    print(f"traced Python allocations: {total / added / 1024:.1f} KiB per added socket")
    print("  bytes/socket  objects/socket  where (innermost frame)")
    for diff in by_line[:top]:
        print(
            f"  {diff.size_diff / added:12.0f}  {diff.count_diff / added:14.2f}  "
            f"{_site(diff.traceback[0])}"
        )
    print("  top call paths (innermost first):")
    for diff in new.compare_to(old, "traceback")[: top // 2]:
        path = " <- ".join(_site(f) for f in list(diff.traceback)[-1:-6:-1])
        print(f"  {diff.size_diff / added:8.0f} B  {path}")


async def _measure(pid: int, trace_dir: Path) -> tuple[int, Path | None, Any]:
    await asyncio.sleep(SETTLE)
    rss = rss_kib([pid])
    snap, stats = await request_dump(pid, trace_dir)
    return rss, snap, stats


async def probe(
    label: str, spec: str, env: dict[str, str], targets: list[Target], args: Any
) -> None:
    with tempfile.TemporaryDirectory() as trace_dir:
        traces = Path(trace_dir)
        env = {**env, "JIGSAW_TRACED_APP": spec, "JIGSAW_TRACE_DIR": trace_dir}
        env["JIGSAW_TRACEMALLOC"] = str(args.frames)
        flags = STOCK_WS_FLAGS if args.bare or args.stock_ws else uvicorn_ws_flags()
        process = await start_server("loadtests.traced_app:app", env, args.port, 1, flags)
        readers = []
        try:
            readers.append(await _open(targets[: args.first]))
            rss_a, snap_a, gc_a = await _measure(process.pid, traces)
            readers.append(await _open(targets[args.first :]))
            rss_b, snap_b, gc_b = await _measure(process.pid, traces)
            added = len(targets) - args.first
            print(f"== {label}: {args.first} -> {len(targets)} sockets, one worker")
            print(f"RSS: {(rss_b - rss_a) / added:.1f} KiB per added socket")
            print(f"GC pauses since start: {gc_b['pauses']}")
            print(f"tracked objects: {gc_a['tracked_objects']} -> {gc_b['tracked_objects']}")
            if snap_a is not None and snap_b is not None:
                compare(snap_a, snap_b, added, args.top)
        finally:
            for reader, control in readers:
                control.send("go")
                control.send("stop")
                await _recv(control)
                reader.join()
            process.terminate()
            await process.wait()


async def run(args: argparse.Namespace) -> None:
    sockets = args.first + args.more
    if args.bare:
        ws = f"ws://127.0.0.1:{args.port}/ws"
        targets = [Target(f"{ws}?child={i % args.children}", {}) for i in range(sockets)]
        await probe("bare Starlette", "loadtests.bare_live:app", {}, targets, args)
        return
    url = await create_database()
    try:
        seeded = await seed(url, sockets, args.children)
        env = {
            "JIGSAW_DATABASE_URL": url,
            "JIGSAW_SECRET_KEY": "bench" * 10,
            "JIGSAW_MFA_KEYS": Fernet.generate_key().decode(),
        }
        ws = f"ws://127.0.0.1:{args.port}/ws"
        targets = [Target(ws, {"authorization": f"Bearer {t}"}) for t in seeded.reader_tokens]
        await probe("jigsaw", "server.asgi:app", env, targets, args)
    finally:
        await drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--first", type=int, default=1000)
    parser.add_argument("--more", type=int, default=4000)
    parser.add_argument("--children", type=int, default=500)
    parser.add_argument("--frames", type=int, default=8, help="tracemalloc frames (0: off)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--port", type=int, default=8775)
    parser.add_argument("--bare", action="store_true")
    parser.add_argument("--stock-ws", action="store_true", help="uvicorn's own ws protocol")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
