"""``alloyscreen status``: the estimated core-hours of a DFT stage's chosen batch, from the stored selections."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alloyscreen.campaign.engine.flow import StageMaker
from alloyscreen.campaign.engine.records import save_campaign
from alloyscreen.campaign.labels.costs import next_batch_core_hours, validate_plan
from alloyscreen.campaign.labels.labelling import Candidate
from alloyscreen.campaign.results.queries import campaign_status
from alloyscreen.campaign.spec import StageSpec, StructureSpec, load_spec
from alloyscreen.candidates.chunk import candidate_document
from alloyscreen.db.documents import insert_document
from alloyscreen.schemas.provenance import Provenance
from alloyscreen.schemas.selection import SelectionDocument
from alloyscreen.surrogates.records import selection_id
from alloyscreen.validation.maker import validate
from alloyscreen.validation.plan import plan_label

pytestmark = pytest.mark.dft

needs_pw = pytest.mark.skipif(shutil.which("pw.x") is None, reason="pw.x not installed")
TINY = {"ecutwfc": 25.0, "ecutrho": 200.0, "kspacing": 0.8, "conv_thr": 3e-6}  # ids of this module's own
CURH = {"Cu": 0.5, "Rh": 0.5}  # neither magnetic: the reference run here is one quick 1-atom cell


def _spec():
    return load_spec({
        "name": "dft-batch", "candidates": {"elements": ["Cu", "Rh"], "n_components": 2, "prototype": "fcc",
                                            "sampling": {"kind": "grid", "step": 0.5}},
        "stages": [{"name": "pw", "calculator": "qe", "max_validations": 2, "category": "dft", "settings": TINY,
                    "structure": {"method": "random", "supercell": [1, 1, 1]}}]})


def _select(database, spec, composition: dict[str, float]) -> str:
    """Store ``composition`` and its selection for stage pw, round 1, not labelled yet; return the candidate id."""
    candidate = candidate_document(composition, "fcc", spec.campaign_id, Provenance())
    insert_document(database["candidates"], candidate)
    insert_document(database["selections"], SelectionDocument(
        id=selection_id(spec.campaign_id, "pw", 1, candidate.id), campaign_id=spec.campaign_id, stage="pw", round=1,
        candidate_id=candidate.id, acquisition="ucb", score=1.0, batch_position=0, batch_size=1,
        reason="best score"))
    return candidate.id


@needs_pw
def test_status_estimates_the_pending_dft_batch_and_counts_what_the_cache_holds(database):
    spec = _spec()
    save_campaign(spec, "running")
    assert next_batch_core_hours(database, database["campaigns"].find_one({"_id": spec.campaign_id})) == {
        "pw": {"candidates": 0, "core_hours": None, "calculations": 0, "cached": 0, "model": None,
               "note": "no batch chosen and waiting: the next round chooses it"}}
    candidate = Candidate(id=_select(database, spec, CURH), composition=CURH, prototype="fcc")
    stage = spec.stages[0]
    structure = stage.structure_maker(spec.seed).generate(CURH, "fcc", (1, 64)).structure
    label = StageMaker.from_spec(spec, stage).labels[spec.targets[0]]
    planned = plan_label(structure, label)
    before = campaign_status(database, spec.campaign_id)["next_batch"]["pw"]
    assert (before["candidates"], before["calculations"], before["cached"]) == (1, len(planned.calculations), 0)
    assert before["core_hours"] == pytest.approx(planned.core_hours)

    reference = next(calc for calc in planned.calculations if calc.role == "reference Cu fcc")
    calculations, _, _ = label.plan(structure)
    prepared, maker = calculations[reference.calculation_id]
    document, _ = validate(prepared.structure, "qe", maker.settings, maker.mode)  # the Cu reference, for real
    assert document.status == "completed" and document.id == reference.calculation_id
    after = campaign_status(database, spec.campaign_id)["next_batch"]["pw"]
    assert (after["calculations"], after["cached"]) == (len(planned.calculations) - 1, 1)
    plan = validate_plan(label, StageSpec(name="pw", calculator="qe", settings=TINY, max_validations=1,
                                          structure=StructureSpec(method="random", supercell=(1, 1, 1))),
                         spec.seed, candidate=candidate)
    assert plan is not None and [calc.cached for calc in plan.calculations if calc.role == "reference Cu fcc"] == [
        "yes"]
    shown = subprocess.run([str(Path(sys.executable).parent / "alloyscreen"), "status", spec.campaign_id],
                           env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    assert (f"  next batch at pw: 1 candidate(s), about {after['core_hours']:.3g} core-hours "
            f"({after['calculations']} calculation(s) to run, 1 cached; ") in shown.stdout
