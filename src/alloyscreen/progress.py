"""Progress in this process: bars per campaign stage, and a status line for a long calculation.

Jobs report through :func:`report`; nothing is shown unless a command line
installed bars with :func:`show_progress` (under FireWorks, reports go nowhere).
Calculations report their current step through :func:`status`, shown on stderr
whatever the command (``alloyscreen run``, ``validate``, an ``rlaunch`` log),
throttled so that quick calculations show nothing and slow ones a heartbeat.
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm

STATUS_EVERY_S = {True: 2.0, False: 30.0}  # on a terminal, in a log: first status after, then at most every

_bars: dict[str, tqdm] | None = None
_status_bar: tqdm | None = None  # the status line below the bars
_status_shown_at = -math.inf
_status_open = False  # something of the current calculation was shown


@contextmanager
def show_progress() -> Iterator[None]:
    """Show progress bars on stderr while the block runs."""
    global _bars, _status_bar
    _bars = {}
    try:
        yield
    finally:
        for bar in _bars.values():
            bar.close()
        if _status_bar is not None:
            _status_bar.close()
        _bars, _status_bar = None, None


def report(stage: str, advance: int = 1, total: int | None = None, unit: str = "validation") -> None:
    """Advance the bar of ``stage`` by ``advance`` (creating it with ``total`` the first time)."""
    if _bars is None:
        return
    bar = _bars.get(stage)
    if bar is None:
        position = len(_bars) + (_status_bar is not None)
        bar = _bars[stage] = tqdm(total=total, desc=stage, unit=unit, position=position, leave=True)
    elif total is not None and bar.total != total:
        bar.total = total
    bar.update(advance)


def finish(stage: str) -> None:
    """Close the bar of ``stage``, if it is shown."""
    if _bars is not None and stage in _bars:
        _bars.pop(stage).close()


def status(text: str, elapsed_s: float, done: bool = False) -> None:
    """Show ``text`` and the elapsed time as the status line of the running calculation, on stderr.

    On a terminal the line appears once the calculation has run 2 s and is
    rewritten at most every 2 s (under the bars of :func:`show_progress`, it is
    a line of its own); elsewhere (a log file) a plain line is written after
    30 s, then at most every 30 s. Calling it often costs little.

    Parameters
    ----------
    text : str
        What the calculation is doing, e.g. ``"pw.x Cu1 relax: ionic step 3, scf iteration 7"``.
    elapsed_s : float
        Seconds since the calculation started.
    done : bool
        The calculation ended: ``text`` is shown (and a terminal line ended) if anything of it was.
    """
    global _status_shown_at, _status_open
    now = time.monotonic()
    soonest = min(STATUS_EVERY_S.values())
    if not done and (elapsed_s < soonest or now - _status_shown_at < soonest):
        return  # the cheap test first: ASE optimisers report every step
    terminal = sys.stderr.isatty()
    every = STATUS_EVERY_S[terminal]
    if (done and not _status_open) or (not done and (elapsed_s < every or now - _status_shown_at < every)):
        return
    _status_shown_at, _status_open = now, not done
    _show(text, f", {_clock(elapsed_s)} elapsed", terminal, done)


def _show(text: str, suffix: str, terminal: bool, done: bool) -> None:
    """Write a status line: below the bars, over the last one on a terminal, or as a log line."""
    global _status_bar
    line = text + suffix
    if terminal and _bars is not None:
        if _status_bar is None:
            _status_bar = tqdm(bar_format="{desc}", desc=line, position=len(_bars), leave=False)
        else:
            _status_bar.set_description_str(line)
    elif terminal:
        width = shutil.get_terminal_size().columns - 1 - len(suffix)  # a wrapped line could not be rewritten
        sys.stderr.write(f"\r{text[:max(width, 0)]}{suffix}\x1b[K" + ("\n" if done else ""))
        sys.stderr.flush()
    elif _bars is not None:
        tqdm.write(line, file=sys.stderr)
    else:
        print(line, file=sys.stderr, flush=True)


def _clock(seconds: float) -> str:
    """Return ``seconds`` as ``mm:ss``, or ``h:mm:ss`` from one hour on."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
