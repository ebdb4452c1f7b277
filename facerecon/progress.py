"""The overall progress of a run over its inputs: inputs done of total, results, failures, time left.

A task that turns inputs (photos) into items (faces) tells :class:`RunProgress` how many items
each input gave (:meth:`RunProgress.expect`) and when each item is finished, written or failed
(:meth:`RunProgress.finish`); an input is done when all its items are. On a terminal this is a
bar above the per-stage bars (``photos 12/40 [written=13, failed=1] <elapsed<left``); in a log or a
pipe, one line per finished input on stderr::

    progress: 12/40 photos, 13 written, 1 failed, 2 min 10 s elapsed, about 5 min 3 s left
"""
from __future__ import annotations

import sys
import time
from typing import Any

from tqdm import tqdm

__all__ = ["RunProgress"]


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class RunProgress:
    """Inputs done of ``total``, with the counts of ``summary`` (a :class:`RunSummary`: its rows are
    the results written, its skipped entries the failures).

    Args:
        total: number of inputs (None when unknown).
        summary: the run's summary, read for the counts.
        unit: what an input is called ("photo").
        stream: where log lines go when not on a terminal.
    """

    def __init__(self, total: int | None, summary: Any, unit: str = "photo", stream: Any = None) -> None:
        self.total, self.summary, self.unit = total, summary, unit
        self.stream = stream if stream is not None else sys.stderr
        self.bar = tqdm(total=total, desc=f"{unit}s", unit=unit, dynamic_ncols=True, disable=None, leave=False,
                        file=self.stream)
        self.started = time.perf_counter()
        self.done = 0
        self._open: dict[str, set[str]] = {}
        self._input_of: dict[str, str] = {}

    def expect(self, source: str, items: list[str]) -> None:
        """Input ``source`` gave ``items`` (none: it is done already, e.g. unreadable or no face)."""
        if not items:
            self._input_done()
            return
        self._open[source] = set(items)
        self._input_of.update({item: source for item in items})

    def finish(self, item: str) -> None:
        """Item ``item`` is written, failed or skipped."""
        source = self._input_of.pop(item, None)
        waiting = self._open.get(source) if source is not None else None
        if waiting is None:
            return
        waiting.discard(item)
        if not waiting:
            del self._open[source]
            self._input_done()

    def _input_done(self) -> None:
        self.done += 1
        written, failed = len(self.summary.rows), len(self.summary.skipped)
        if not self.bar.disable:
            self.bar.set_postfix(written=written, failed=failed, refresh=False)
            self.bar.update(1)
            if self.total is not None and self.done >= self.total:
                self.bar.close()
            return
        elapsed = time.perf_counter() - self.started
        of = f"/{self.total}" if self.total is not None else ""
        line = f"progress: {self.done}{of} {self.unit}s, {written} written, {failed} failed, {_duration(elapsed)} elapsed"
        if self.total and self.done < self.total:
            line += f", about {_duration(elapsed / self.done * (self.total - self.done))} left"
        print(line, file=self.stream, flush=True)
