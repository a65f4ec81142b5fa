"""Jobs that record a campaign's life in the ``campaigns`` collection."""

from __future__ import annotations

from jobflow import job

from alloyscreen.campaign.spec import CampaignSpec
from alloyscreen.db.client import get_database
from alloyscreen.db.documents import insert_document
from alloyscreen.schemas.campaign import CampaignDocument, CampaignStatus
from alloyscreen.schemas.provenance import current_job_provenance


def save_campaign(spec: CampaignSpec, status: CampaignStatus) -> str:
    """Store the campaign document once (its id is :attr:`CampaignSpec.campaign_id`) and set its status; return the id.

    Status ``created`` never overwrites a stored status (a worker may already run the campaign).
    """
    spec_hash = spec.campaign_id
    document = CampaignDocument(
        id=spec_hash, name=spec.name, spec=spec.model_dump(mode="json"), spec_hash=spec_hash, status=status,
        provenance=current_job_provenance(campaign_id=spec_hash, input_hash=spec_hash),
    )
    campaigns = get_database()["campaigns"]
    if not insert_document(campaigns, document) and status != "created":
        campaigns.update_one({"_id": spec_hash}, {"$set": {"status": status}})
    return spec_hash


def mark_campaign(campaign_id: str, status: CampaignStatus, message: str | None = None) -> bool:
    """Set the status (and its reason) of campaign ``campaign_id``; False when it is not stored."""
    result = get_database()["campaigns"].update_one(
        {"_id": campaign_id}, {"$set": {"status": status, "message": message}}
    )
    return result.matched_count == 1


@job
def set_campaign_status(campaign_id: str, status: CampaignStatus, message: str | None = None) -> str:
    """Set the status of campaign ``campaign_id``; return the status."""
    if not mark_campaign(campaign_id, status, message):
        raise KeyError(f"no campaign with id {campaign_id!r}")
    return status
