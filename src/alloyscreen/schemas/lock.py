"""The ``locks`` document: a claim on work in progress (see ``alloyscreen.db.cache``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class WorkLock(BaseModel):
    """A worker's claim on one key of a result collection."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    id: str = Field(alias="_id", description="'<collection>:<key>' of the claimed work")
    collection: str = Field(description="result collection the work writes to")
    key: str = Field(description="input hash of the work")
    heartbeat: datetime = Field(description="last sign of life of the holder (UTC)")
    host: str = Field(description="host name of the holder")
    pid: int = Field(description="process id of the holder on its host")
    token: str = Field(description="random token identifying this claim")
