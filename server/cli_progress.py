"""Progress bars for long commands (backup, restore, import): one click bar per stage."""

from __future__ import annotations

from typing import Any, TextIO

import click


class StageBars:
    """A click progress bar for each stage of a long operation (a server.ops or import
    Progress: `(stage, done, total)`), on `file` (stdout when None)."""

    def __init__(self, file: TextIO | None = None) -> None:
        self.file = file
        self.stage = ""
        self.bar: Any = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = click.progressbar(length=max(total, 1), label=stage, file=self.file)
            self.bar.__enter__()
        self.bar.length = max(total, 1)
        self.bar.update(done - self.bar.pos)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.render_finish()
        self.stage, self.bar = "", None
