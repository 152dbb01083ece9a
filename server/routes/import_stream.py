"""Running an import from the page, with its progress shown as it goes.

A file under STREAMED_FROM rows answers with an ordinary page once the import is done
(its status says the outcome: 200, or 422 when a row is refused). A bigger one takes tens
of seconds, so its page is streamed: the page's top, then one progress line per step
(stage, rows done of total), then the report. No JavaScript is needed: a browser shows
the page as it arrives, and the stylesheet shows only the newest progress line. A
streamed page's status is 200 whatever the outcome: the outcome is in the page.

The import runs as its own task: it finishes (one transaction, audited) even when the
page is closed, like the command would; it is never left half done either way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from markupsafe import escape
from starlette.requests import Request
from starlette.responses import StreamingResponse

from feeds.csv_import import CHECKING, Progress, Report
from feeds.errors import DomainError

STREAMED_FROM = 2_000  # rows: smaller files answer in a few seconds
MARKER = "<!--stream-->"  # where the progress lines, then the report, go in the page
log = logging.getLogger("jigsaw.import")

Step = tuple[str, int, int]
Work = Callable[[Progress], Coroutine[Any, Any, Report]]


class Watch:
    """An import's Progress, queued for its streamed page; `big` is set once the file is
    known to have STREAMED_FROM rows or more, or the import has finished."""

    def __init__(self) -> None:
        self.steps: asyncio.Queue[Step | None] = asyncio.Queue()
        self.big = asyncio.Event()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == CHECKING and total >= STREAMED_FROM:
            self.big.set()
        self.steps.put_nowait((stage, done, total))

    def finished(self, task: asyncio.Task[Report]) -> None:
        error = None if task.cancelled() else task.exception()
        if error is not None and not isinstance(error, DomainError):
            log.error("An import failed: nothing was imported.", exc_info=error)
        self.steps.put_nowait(None)
        self.big.set()


async def start(request: Request, work: Work) -> tuple[asyncio.Task[Report], Watch]:
    """Start the import; return once it has finished or its file has proved big."""
    watch = Watch()
    task = asyncio.create_task(work(watch))
    running: set[asyncio.Task[Report]] = request.app.state.running_imports
    running.add(task)  # the loop keeps only a weak reference to a task
    task.add_done_callback(running.discard)
    task.add_done_callback(watch.finished)
    await watch.big.wait()
    return task, watch


def step_html(stage: str, done: int, total: int) -> str:
    return (
        f'<li><progress value="{done}" max="{max(total, 1)}"></progress> '
        f"{escape(stage)}: {done:,} of {total:,}</li>\n"
    )


def streamed(
    page: str, watch: Watch, task: asyncio.Task[Report], result: Callable[[], str]
) -> StreamingResponse:
    """`page` (holding MARKER twice) streamed: progress lines at the first marker, then
    `result()` (rendered once the import is done) at the second."""
    head, middle, tail = page.split(MARKER)

    async def body() -> AsyncIterator[str]:
        yield head
        while (step := await watch.steps.get()) is not None:
            yield step_html(*step)
        await asyncio.wait({task})
        yield middle + result() + tail

    # The status line goes out with the page's top, before the outcome is known: a streamed
    # page is 200 even when the import fails. The failure is in the page ("Not imported",
    # partials/import_result.html), and the import's one transaction wrote nothing.
    # A proxy must pass each line on as it comes (nginx buffers unless told).
    headers = {"x-accel-buffering": "no"}
    return StreamingResponse(body(), media_type="text/html; charset=utf-8", headers=headers)
