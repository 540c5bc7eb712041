"""Progress of long work (``check``, ``bench``, ``study``, ``ab``): count, current item,
elapsed and remaining time.

On a terminal it is a rich progress bar; otherwise (a CI log, a pipe) one plain line per
finished item, so a long run is never silent and its log reads top to bottom::

    xbench check [ 37/292] 0:00:12 elapsed, ~0:01:25 left: torch sgd weight_decay float64

The remaining time is the mean time per finished item so far times the items left: over a
whole run that is steadier than a rate over the last few seconds.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from xbench.errors import stop_if_interrupted
from xbench.present.units import clock


class Progress:
    """``with Progress(total, "xbench check") as progress:`` then ``progress.start(item)``
    as each item begins and ``progress.done(item, note)`` as it ends.

    ``live``: a bar on ``stream`` (default: when ``stream`` is a terminal); otherwise one
    line per finished item. ``quiet``: nothing at all.
    """

    def __init__(
        self,
        total: int,
        title: str,
        stream: TextIO | None = None,
        live: bool | None = None,
        quiet: bool = False,
    ) -> None:
        self.total, self.title, self.finished = total, title, 0
        self.stream = stream if stream is not None else sys.stderr
        terminal = bool(getattr(self.stream, "isatty", None)) and self.stream.isatty()
        self.live = terminal if live is None else live
        self.quiet = quiet
        self.started = time.perf_counter()
        self.current: str | None = None  # the item begun and not yet done
        self._bar = self._task = None

    def __enter__(self) -> Progress:
        self.started = time.perf_counter()
        if self.live and not self.quiet:
            from rich import progress as bars
            from rich.console import Console

            self._bar = bars.Progress(
                bars.TextColumn("{task.description}"), bars.BarColumn(), bars.MofNCompleteColumn(),
                bars.TimeElapsedColumn(), bars.TextColumn("~"), bars.TimeRemainingColumn(),
                bars.TextColumn("{task.fields[item]}"),
                console=Console(file=self.stream), speed_estimate_period=24 * 3600,
            )  # fmt: skip
            self._bar.start()
            self._task = self._bar.add_task(self.title, total=self.total, item="")
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None and self.current is not None:  # work announced per item: the last
            self.done(self.current)
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def remaining(self) -> float | None:
        """Seconds left at the mean pace so far; None before the first item ends."""
        if not self.finished:
            return None
        return self.elapsed / self.finished * max(0, self.total - self.finished)

    def start(self, item: str) -> None:
        """``item`` begins (shown on the bar; a plain log waits for its end). A Ctrl-C that a
        library swallowed stops the work here, between items."""
        stop_if_interrupted()
        self.current = item
        if self._bar is not None:
            self._bar.update(self._task, item=item)

    def next(self, item: str) -> None:
        """The item in progress (if any) ended, and ``item`` begins: for work that announces
        each item before it runs."""
        if self.current is not None:
            self.done(self.current)
        self.start(item)

    def set_total(self, total: int) -> None:
        self.total = total
        if self._bar is not None:
            self._bar.update(self._task, total=total)

    def done(self, item: str, note: str = "") -> None:
        """``item`` ended; ``note`` (a result, a time) goes on its line."""
        stop_if_interrupted()
        self.finished += 1
        self.current = None
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.update(self._task, advance=1, item=item)
            if note:
                self._bar.console.print(f"{item}  {note}", highlight=False)
            return
        left, width = self.remaining, len(str(self.total))
        line = (
            f"{self.title} [{self.finished:>{width}}/{self.total}] {clock(self.elapsed)} elapsed"
            + (f", ~{clock(left)} left" if left is not None else "")
            + f": {item}"
            + (f"  {note}" if note else "")
        )
        print(line, file=self.stream, flush=True)
