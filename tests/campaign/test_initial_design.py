"""The 'direct' initial design: the first batch is one candidate per cluster of a random sample of the space."""

import numpy as np
from scipy.spatial.distance import pdist

from alloyscreen.campaign.round.steps import plan_round, score_round, select_round
from alloyscreen.campaign.spec import load_spec
from alloyscreen.surrogates.selection import _standardised


def _first_batch(database, design: str):
    spec = load_spec({
        "name": f"design-{design}", "seed": 5, "initial_random": 6, "initial_design": design, "direct_sample": 250,
        "candidates": {"elements": ["Cu", "Ni", "Pd", "Au", "Ag"], "n_components": [2, 3],
                       "sampling": {"kind": "grid", "step": 0.125}, "prototype": "fcc"},
        "stages": [{"name": "emt", "calculator": "emt", "max_validations": 10}],
    })
    plan = plan_round(spec, 0, [], 6)
    scored = score_round(spec, plan, [])
    batch = select_round(spec, plan, [], scored)
    rows = [scored.ids.index(candidate.id) for candidate in batch]
    selections = list(database["selections"].find({"campaign_id": spec.campaign_id}))
    return plan, scored, rows, selections


def test_direct_design_spreads_the_first_batch_over_the_descriptor_space(database):
    plan, scored, rows, selections = _first_batch(database, "direct")
    assert plan.acquisition == "direct" and plan.keep == 250 and len(scored.ids) == 250  # of 280
    assert len(rows) == 6 and {s["acquisition"] for s in selections} == {"direct"}
    assert all("k-means cluster" in s["reason"] for s in selections)
    _, random_scored, random_rows, _ = _first_batch(database, "random")
    Z = _standardised(scored.X)
    spread = pdist(Z[rows]).min()
    random_spread = pdist(_standardised(random_scored.X)[random_rows]).min()
    assert spread > random_spread  # no two stratified picks as close as the closest random pair
    assert np.isfinite(spread)
