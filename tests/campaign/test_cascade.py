"""The scoring cascade keeps the whole ensemble's top slice while the whole ensemble scores few candidates."""

from __future__ import annotations

import numpy as np
import pytest

from alloyscreen.campaign.round.cascade import CascadeScorer
from alloyscreen.campaign.round.screen import _scorer
from alloyscreen.campaign.spec import AcquisitionSpec
from alloyscreen.candidates import CandidateSpace
from alloyscreen.descriptors import featurize
from alloyscreen.surrogates.acquisition import Objective
from alloyscreen.surrogates.ensemble import EnsembleRegressor

SPACE = {"elements": ["Pt", "Pd", "Fe", "Co", "Ni", "Cu"], "n_components": [2, 4], "prototype": "auto",
         "sampling": {"kind": "grid", "step": 0.05}}
FEATURES = ["vec", "delta", "delta_s_mix", "electronegativity_delta", "radii_local_mismatch", "atomic_weight_mean",
            "shear_modulus_mean", "MagpieData mean Number", "MagpieData avg_dev Electronegativity"]
KEEP = 10


@pytest.fixture(scope="module")
def model() -> EnsembleRegressor:
    """An XGBoost ensemble of the Takeuchi-Inoue mixing enthalpy (kJ/mol, the real binary table) of 400 random
    compositions of the pool, from descriptors that do not contain it."""
    draws = CandidateSpace({**SPACE, "sampling": {"kind": "dirichlet", "n_samples": 400, "seed": 4}})
    comps = next(iter(draws.iter_chunks(400))).compositions()
    y = featurize(comps, ["delta_h_mix"]).column("delta_h_mix")
    return EnsembleRegressor(learner="xgboost", n_members=4, learner_params={"n_estimators": 60},
                             random_state=2, n_jobs=1).fit(featurize(comps, FEATURES).values, y)


def _screen(scorer, keep: int = KEEP):
    """Best ``keep`` rows of the space by the scorer: positions, means, stds (as score_space keeps them)."""
    from alloyscreen.campaign.round.scoring import score_space

    scored = score_space(CandidateSpace(SPACE), FEATURES, scorer, keep, chunk_size=1024, full_ranking=0)
    return scored.positions.tolist(), scored.mean, scored.std


@pytest.mark.parametrize("objective", [Objective("dh", "minimize"), Objective("dh", "maximize"),
                                       Objective("dh", "target", target=-12.0)], ids=lambda o: o.direction)
def test_the_cascade_keeps_the_whole_ensembles_top_slice(model, objective):
    full = _screen(_scorer(model, objective, KEEP, 1.0))
    cascade = _scorer(model, objective, KEEP, 0.02)
    assert isinstance(cascade, CascadeScorer)
    positions, mean, std = _screen(cascade)
    assert positions == full[0]
    np.testing.assert_array_equal(mean, full[1])
    np.testing.assert_array_equal(std, full[2])
    assert cascade.scored == CandidateSpace(SPACE).size
    assert cascade.fully_scored < 0.5 * cascade.scored, (cascade.fully_scored, cascade.scored)


def test_without_a_spread_margin_it_can_miss_and_the_bound_is_what_keeps_it_exact(model, monkeypatch):
    """With the reach ignored the first member alone decides, and its top slice is not the ensemble's."""
    objective = Objective("dh", "maximize")
    full = _screen(_scorer(model, objective, KEEP, 1.0))
    monkeypatch.setattr("alloyscreen.campaign.round.cascade.SPREAD_MARGIN", 0.0)
    cascade = _scorer(model, objective, KEEP, 0.001)
    assert _screen(cascade)[0] != full[0]


def test_a_single_member_is_its_own_ensemble(model):
    """M = g: the bound is exact with no reach, so only candidates at or above the threshold are scored twice."""
    objective = Objective("dh", "minimize")
    single = EnsembleRegressor.from_bytes(model.to_bytes())
    single.members_ = single.members_[:1]
    full = _screen(_scorer(single, objective, KEEP, 1.0))
    cascade = _scorer(single, objective, KEEP, 0.001)
    assert _screen(cascade)[0] == full[0] and cascade.reach == 0.0


def test_the_spec_setting_defaults_to_the_whole_ensemble():
    assert AcquisitionSpec().cascade == 1.0
    with pytest.raises(ValueError, match="cascade"):
        AcquisitionSpec(cascade=0)
