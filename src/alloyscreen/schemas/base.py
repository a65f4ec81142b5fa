"""Base class of the documents stored in MongoDB."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alloyscreen.schemas.provenance import Provenance


class Document(BaseModel):
    """A stored document: ``id`` is the MongoDB ``_id``, ``provenance`` says where it came from."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    id: str = Field(alias="_id", description="content-hash id of the document")
    provenance: Provenance = Field(default_factory=Provenance, description="where the document came from")

    def to_mongo(self) -> dict[str, Any]:
        """Return the document as stored: ``_id`` key, datetimes kept as BSON dates."""
        return self.model_dump(by_alias=True, mode="python")

    @classmethod
    def from_mongo(cls, raw: dict[str, Any]):
        """Build the model from a stored document."""
        return cls.model_validate(raw)
