"""A campaign's Fireworks on the LaunchPad: their state, and reruns of the failed ones.

jobflow copies a job's metadata into its Firework's spec, and a campaign
flow's metadata (:meth:`CampaignMaker.make`) reaches the jobs created while it
runs: every Firework of a submitted campaign carries ``spec.campaign_id``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fireworks import LaunchPad
from fireworks.fw_config import RUN_EXPIRATION_SECS
from pymongo.database import Database

from alloyscreen.db.client import close_client
from alloyscreen.db.stores import get_launchpad


@contextmanager
def project_launchpad() -> Iterator[LaunchPad]:
    """The LaunchPad on the project database, its client closed afterwards."""
    launchpad = get_launchpad()
    try:
        yield launchpad
    finally:
        close_client(launchpad.connection)


def submitted(database: Database, campaign_id: str) -> bool:
    """Whether the LaunchPad on ``database`` holds Fireworks of the campaign."""
    return database["fireworks"].find_one({"spec.campaign_id": campaign_id}, {"_id": 1}) is not None


def _campaign_fireworks(launchpad: LaunchPad, campaign_id: str, **query: Any) -> list[dict[str, Any]]:
    return list(launchpad.fireworks.find({"spec.campaign_id": campaign_id, **query},
                                         {"fw_id": 1, "name": 1, "state": 1, "launches": 1}, sort=[("fw_id", 1)]))


def _last_error(launchpad: LaunchPad, firework: dict[str, Any]) -> str:
    """The last line of the traceback stored by the Firework's last launch."""
    launches = launchpad.launches.find({"launch_id": {"$in": firework["launches"]}},
                                       {"action.stored_data._exception._stacktrace": 1}, sort=[("launch_id", -1)])
    last: dict[str, Any] = next(iter(launches), {})
    stored = (last.get("action") or {}).get("stored_data") or {}
    lines = [line.strip() for line in stored.get("_exception", {}).get("_stacktrace", "").splitlines() if line.strip()]
    return lines[-1] if lines else "no error stored (marked FIZZLED without raising, e.g. a lost run)"


def workflow_status(launchpad: LaunchPad, campaign_id: str,
                    lost_after_s: float = RUN_EXPIRATION_SECS) -> dict[str, Any]:
    """The state of a submitted campaign's workflow.

    ``fireworks``: counts by state; ``fizzled``: fw_id, name and the error's
    last line of each FIZZLED Firework; ``lost``: RUNNING Fireworks whose
    worker did not ping for ``lost_after_s`` (FireWorks' ``detect_lostruns``,
    which is only asked, not told to rerun them).
    """
    fireworks = _campaign_fireworks(launchpad, campaign_id)
    names = {fw["fw_id"]: fw["name"] for fw in fireworks}
    workflow = launchpad.workflows.find_one({"nodes": {"$in": list(names)}}, {"state": 1}, sort=[("created_on", -1)])
    _, lost_ids, _ = launchpad.detect_lostruns(lost_after_s, query={"spec.campaign_id": campaign_id})
    return {
        "state": workflow["state"],
        "fireworks": dict(Counter(fw["state"] for fw in fireworks)),
        "fizzled": [{"fw_id": fw["fw_id"], "name": fw["name"], "error": _last_error(launchpad, fw)}
                    for fw in fireworks if fw["state"] == "FIZZLED"],
        "lost": [{"fw_id": fw_id, "name": names[fw_id]} for fw_id in sorted(lost_ids)],
        "lost_after_s": lost_after_s,
    }


def rerun_failed(launchpad: LaunchPad, campaign_id: str) -> list[dict[str, Any]]:
    """Rerun the campaign's FIZZLED Fireworks (never a COMPLETED one: no finished subtree is made again).

    FireWorks resets each to READY and its children, which never ran, stay
    WAITING; finished calculations and selections are reused when they run.
    Returns the Fireworks rerun (fw_id and name).
    """
    failed = _campaign_fireworks(launchpad, campaign_id, state="FIZZLED")
    for firework in failed:
        launchpad.rerun_fw(firework["fw_id"])
    return [{"fw_id": fw["fw_id"], "name": fw["name"]} for fw in failed]
