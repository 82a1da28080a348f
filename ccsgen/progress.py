"""The one progress bar: on a terminal only, silenced by ``--quiet``. Library code takes any object with
``start(label, total)``, ``advance(n)`` and ``stop()``; ``None`` means no progress."""

from __future__ import annotations

import os
import sys


class Progress:
    def __init__(self, enabled: bool, units: str = "bytes"):
        self.enabled = enabled and sys.stderr.isatty()
        self.units = units
        self._p = None
        self._task = None

    def start(self, label: str, total: int) -> None:
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import (
            Progress as RichBar,
        )

        count = DownloadColumn() if self.units == "bytes" else MofNCompleteColumn()
        console = Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")))
        self._p = RichBar(TextColumn("[bold]{task.description}"), BarColumn(), count, TimeRemainingColumn(),
                          console=console, transient=True)
        self._p.start()
        self._task = self._p.add_task(label, total=max(total, 1))

    def advance(self, n: int = 1) -> None:
        if self._p is not None:
            self._p.advance(self._task, n)

    def stop(self) -> None:
        if self._p is not None:
            self._p.stop()
            self._p = None
