"""Progress of a campaign running in this process: bars per stage, with counts and time left.

Jobs report through :func:`report`; nothing is shown unless a command line
installed bars with :func:`show_progress` (under FireWorks, reports go nowhere).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm

_bars: dict[str, tqdm] | None = None


@contextmanager
def show_progress() -> Iterator[None]:
    """Show progress bars on stderr while the block runs."""
    global _bars
    _bars = {}
    try:
        yield
    finally:
        for bar in _bars.values():
            bar.close()
        _bars = None


def report(stage: str, advance: int = 1, total: int | None = None, unit: str = "validation") -> None:
    """Advance the bar of ``stage`` by ``advance`` (creating it with ``total`` the first time)."""
    if _bars is None:
        return
    bar = _bars.get(stage)
    if bar is None:
        bar = _bars[stage] = tqdm(total=total, desc=stage, unit=unit, position=len(_bars), leave=True)
    elif total is not None and bar.total != total:
        bar.total = total
    bar.update(advance)


def finish(stage: str) -> None:
    """Close the bar of ``stage``, if it is shown."""
    if _bars is not None and stage in _bars:
        _bars.pop(stage).close()
