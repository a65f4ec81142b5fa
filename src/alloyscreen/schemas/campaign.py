"""The ``campaigns`` document: a spec as given, its hash, progress and budgets spent."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from alloyscreen.schemas.base import Document

CampaignStatus = Literal["created", "running", "completed", "failed", "stopped"]


class CampaignDocument(Document):
    """One screening campaign; ``_id`` is the content hash of its spec."""

    name: str = Field(description="human-readable campaign name from the spec")
    spec: dict[str, Any] = Field(description="the full campaign spec as given")
    spec_hash: str = Field(description="content hash of the spec's values that differ from their defaults (the id)")
    status: CampaignStatus = Field("created", description="lifecycle state of the campaign")
    iteration: int = Field(0, ge=0, description="active-learning round the campaign is in")
    budgets_spent: dict[str, float] = Field(
        default_factory=dict, description="spent budget per stage (validations, or core-hours where named so)"
    )
    message: str | None = Field(None, description="reason for the last status change, if any")
