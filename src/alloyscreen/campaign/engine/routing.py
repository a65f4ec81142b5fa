"""Which FireWorks worker runs what of a campaign: categories of the driver jobs and of each stage's jobs."""

from __future__ import annotations

from pathlib import Path

from fireworks import FWorker

from alloyscreen.campaign.engine.flow import DRIVER_CATEGORY
from alloyscreen.campaign.spec import CampaignSpec
from alloyscreen.errors import AlloyscreenError


def routes(spec: CampaignSpec) -> dict[str, list[str]]:
    """FireWorks ``_category`` -> what of the campaign runs under it (driver jobs, each stage's label jobs)."""
    found: dict[str, list[str]] = {DRIVER_CATEGORY: ["driver jobs (rounds, scoring, confirmation)"]}
    for stage in spec.stages:
        found.setdefault(stage.category, []).append(f"stage {stage.name} ({stage.calculator})")
    return found


def worker_duties(fworker_file: Path, spec: CampaignSpec) -> tuple[str, list[str]]:
    """The worker's name and what it runs of ``spec``; a category matching no job of it fails in one line."""
    try:
        worker = FWorker.from_file(str(fworker_file))
    except (OSError, ValueError, AttributeError, TypeError) as error:
        raise AlloyscreenError(f"FireWorks worker file {str(fworker_file)!r} cannot be read ({error}); allowed: a "
                               "yaml file with name, category and query, as `rlaunch -w` reads it") from None
    known = routes(spec)
    if not worker.category:  # a worker with no category pulls every Firework
        return worker.name, [duty for duties in known.values() for duty in duties]
    asked = [worker.category] if isinstance(worker.category, str) else list(worker.category)
    unknown = [category for category in asked if category not in known]
    if unknown:
        what = "; ".join(f"{category}: {', '.join(duties)}" for category, duties in sorted(known.items()))
        raise AlloyscreenError(f"worker {worker.name!r} ({fworker_file}) has category {unknown[0]!r}, which no job of "
                               f"campaign {spec.name} carries; allowed: {', '.join(sorted(known))} ({what})")
    return worker.name, [duty for category in asked for duty in known[category]]
