"""Which document model lives in which collection, with the indexes its queries need."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from alloyscreen.schemas.calculation import CalculationDocument
from alloyscreen.schemas.campaign import CampaignDocument
from alloyscreen.schemas.candidate import CandidateDocument
from alloyscreen.schemas.label import LabelDocument
from alloyscreen.schemas.lock import LostAttempt, WorkLock
from alloyscreen.schemas.model import ModelDocument
from alloyscreen.schemas.prediction import PredictionDocument
from alloyscreen.schemas.selection import SelectionDocument
from alloyscreen.schemas.structure import StructureDocument


@dataclass(frozen=True)
class Index:
    """One MongoDB index: ``keys`` as (field, direction) pairs."""

    keys: tuple[tuple[str, int], ...]
    unique: bool = False

    @property
    def name(self) -> str:
        """The index name MongoDB would give it."""
        return "_".join(f"{key}_{direction}" for key, direction in self.keys)


@dataclass(frozen=True)
class CollectionSpec:
    """A collection: its name, its document model and its indexes."""

    name: str
    model: type[BaseModel]
    indexes: tuple[Index, ...] = field(default_factory=tuple)


def _asc(*names: str, unique: bool = False) -> Index:
    return Index(tuple((name, 1) for name in names), unique=unique)


CAMPAIGN_ROUND = ("campaign_id", "round")

COLLECTIONS: tuple[CollectionSpec, ...] = (
    CollectionSpec("campaigns", CampaignDocument, (_asc("name"), _asc("status"))),
    CollectionSpec("locks", WorkLock, (_asc("collection"),)),
    CollectionSpec("lost_attempts", LostAttempt, (_asc("collection", "key"),)),
    CollectionSpec("candidates", CandidateDocument, (_asc("formula"), _asc("campaign_id"))),
    CollectionSpec("structures", StructureDocument, (_asc("candidate_id"), _asc("kind"))),
    CollectionSpec("calculations", CalculationDocument, (
        _asc("status"), _asc("calculator", "formula"), _asc("provenance.campaign_id"), _asc("provenance.created_at"))),
    CollectionSpec("labels", LabelDocument, (_asc("candidate_id", "property", "calculator"),)),
    CollectionSpec("models", ModelDocument, (_asc("provenance.campaign_id"),)),
    CollectionSpec("predictions", PredictionDocument, (_asc(*CAMPAIGN_ROUND, "rank"), _asc("candidate_id"))),
    CollectionSpec("selections", SelectionDocument, (
        _asc(*CAMPAIGN_ROUND, "stage", "candidate_id", unique=True), _asc("candidate_id"))),
)


def collection_spec(name: str) -> CollectionSpec:
    """Return the spec of collection ``name``."""
    for spec in COLLECTIONS:
        if spec.name == name:
            return spec
    raise KeyError(name)
