"""Provenance attached to every domain document."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from functools import cache
from importlib import metadata

from pydantic import BaseModel, Field

TRACKED_PACKAGES = (
    "alloyscreen", "ase", "atomate2", "catboost", "chgnet", "fireworks", "jobflow",
    "matgl", "numpy", "pymatgen", "pymongo", "sevenn", "torch", "xgboost",
)


@cache
def _installed(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Read the installed versions of ``names`` once per process (they do not change while it runs)."""
    found = []
    for name in names:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(found)


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    """Return installed versions of ``names`` (key: package name, no dots), read once per process."""
    return dict(_installed(names))


@cache
def host_name() -> str:
    """Return this worker's host name, read once per process."""
    return socket.gethostname()


def _now() -> datetime:
    return datetime.now(UTC)


class Provenance(BaseModel):
    """Where a document came from: job, flow, campaign, inputs, parents, software."""

    job_uuid: str | None = Field(None, description="uuid of the jobflow job that made the document")
    flow_uuid: str | None = Field(None, description="uuid of the jobflow flow the job belongs to")
    campaign_id: str | None = Field(None, description="id of the campaign, if any")
    created_at: datetime = Field(default_factory=_now, description="creation time (UTC)")
    host: str = Field(default_factory=host_name, description="host name of the worker")
    versions: dict[str, str] = Field(
        default_factory=package_versions, description="versions of alloyscreen and scientific packages"
    )
    input_hash: str | None = Field(None, description="content hash of the inputs of the work")
    parents: list[str] = Field(default_factory=list, description="ids of the documents this one was made from")


def current_job_provenance(**fields) -> Provenance:
    """Build a Provenance filled with the running jobflow job's uuids, if any."""
    try:
        from jobflow import CURRENT_JOB
    except ImportError:  # pragma: no cover - jobflow is a dependency
        return Provenance(**fields)
    job = CURRENT_JOB.job
    if job is not None:
        fields.setdefault("job_uuid", job.uuid)
        fields.setdefault("flow_uuid", job.hosts[-1] if job.hosts else None)
    return Provenance(**fields)
