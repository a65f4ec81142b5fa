"""The ``locks`` document, a claim on work in progress, and the ``lost_attempts`` document, work lost with it.

See ``alloyscreen.db.cache``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LostReason = Literal["dead pid", "job gone", "stale heartbeat"]


class WorkLock(BaseModel):
    """A worker's claim on one key of a result collection."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    id: str = Field(alias="_id", description="'<collection>:<key>' of the claimed work")
    collection: str = Field(description="result collection the work writes to")
    key: str = Field(description="input hash of the work")
    acquired: datetime | None = Field(None, description="when the holder claimed the work (UTC); None from "
                                                        "workers older than this field")
    heartbeat: datetime = Field(description="last sign of life of the holder (UTC)")
    host: str = Field(description="host name of the holder")
    pid: int = Field(description="process id of the holder on its host")
    slurm_job_id: str | None = Field(None, description="id of the SLURM job the holder runs in (SLURM_JOB_ID); "
                                                       "None outside SLURM")
    cores: int | None = Field(None, description="CPU cores charged to the holder (cores): those SLURM allocated "
                                                "to its job on its node; None outside SLURM")
    token: str = Field(description="random token identifying this claim")


class LostAttempt(BaseModel):
    """Work whose holder died before finishing it: its lock was taken over, its core-hours are spent."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    id: str = Field(alias="_id", description="'<collection>:<key>:<token>' of the lost claim (see locks)")
    collection: str = Field(description="result collection the work was to write to")
    key: str = Field(description="input hash of the work")
    host: str = Field(description="host name of the lost holder")
    pid: int = Field(description="process id of the lost holder on its host")
    slurm_job_id: str | None = Field(None, description="id of the lost holder's SLURM job; None outside SLURM")
    reason: LostReason = Field(description="why the holder was found gone: its pid died on this host, SLURM says "
                                           "its job ended, or its heartbeat stopped")
    started: datetime = Field(description="when the lost holder claimed the work (UTC)")
    heartbeat: datetime = Field(description="last sign of life of the lost holder (UTC)")
    cores: int | None = Field(None, description="CPU cores charged to the lost holder (cores); None outside SLURM")
    core_hours: float | None = Field(None, ge=0, description="(heartbeat - started) x cores / 3600 (core hours); "
                                                             "None when cores is unknown")
