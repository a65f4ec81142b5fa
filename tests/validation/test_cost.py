"""The core-hour model of DFT calculations: features, the fit to cached calculations, the prior."""

from __future__ import annotations

import shutil
import uuid

import numpy as np
import pytest
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer
from tests.validation.conftest import fcc_primitive

from alloyscreen.validation.base import structure_dict
from alloyscreen.validation.cost import (
    FEATURES,
    MIN_FIT_CORE_HOURS,
    PRIOR_SD,
    CostModel,
    calculation_features,
    fitted_model,
    leave_one_out,
    prior_check,
    training_set,
)
from alloyscreen.validation.maker import validate
from alloyscreen.validation.physics import pool_settings
from alloyscreen.validation.registry import get_calculator

pytestmark = pytest.mark.dft

needs_pw = pytest.mark.skipif(shutil.which("pw.x") is None, reason="pw.x not installed")
TRUE_COEFFICIENTS = np.array([np.log(4e-3), 2.6, 0.8, 1.2, 0.5, 1.3])  # what the synthetic cache follows


@pytest.fixture
def scratch_cache(database):
    """An empty database on the embedded server, for a cache of the test's own calculations."""
    name = f"{database.name}_cost_{uuid.uuid4().hex[:6]}"
    yield database.client[name]
    database.client.drop_database(name)


def _calculations():
    """Real cells and pw.x physics resolved by the calculator, varied in atoms, k-points, cutoff, spin and mode."""
    qe = get_calculator("qe")
    cells = [fcc_primitive("Cu", 3.61).make_supercell(repeats, in_place=False)
             for repeats in ([1, 1, 1], [2, 1, 1], [2, 2, 1], [2, 2, 2])]
    for index, cell in enumerate(cells * 4):
        settings = {"ecutwfc": 25.0 + 10 * (index % 3), "ecutrho": 320.0, "kspacing": 0.3 + 0.15 * (index // 4),
                    "spin": index % 2 == 0}
        mode = "static" if index % 3 else "relax"
        yield cell, qe.resolve(cell, pool_settings("qe", ["Cu"], settings), mode)[0]


def test_the_fit_recovers_the_scaling_of_the_calculations_in_the_cache(scratch_cache):
    rows, noise = [], np.random.default_rng(0)
    for index, (cell, physics) in enumerate(_calculations()):
        x = calculation_features("qe", cell, physics).vector()
        rows.append(x)
        hours = float(np.exp(x @ TRUE_COEFFICIENTS + noise.normal(0, 0.02)))
        scratch_cache["calculations"].insert_one({
            "_id": f"calc-{index}", "calculator": "qe", "status": "completed", "settings": physics,
            "input_structure": structure_dict(cell), "core_hours": hours})
    scratch_cache["calculations"].insert_one({"_id": "failed", "calculator": "qe", "status": "failed",
                                              "settings": physics, "input_structure": structure_dict(cell),
                                              "core_hours": 5.0})
    X, hours, ids = training_set("qe", scratch_cache, min_core_hours=0)
    assert len(ids) == len(rows) and "failed" not in ids  # completed calculations only
    assert fitted_model("qe", scratch_cache).n_fitted_ == np.sum(hours >= MIN_FIT_CORE_HOURS) < len(rows)
    model = CostModel(noise_sd=0.02).fit(X, hours)  # the residual spread of these data: the data decide
    assert np.allclose(model.coef_[1:], TRUE_COEFFICIENTS[1:], atol=0.05), dict(zip(FEATURES, model.coef_, strict=True))
    fitted_errors = leave_one_out(X, hours)
    prior_errors = np.abs(CostModel().fit(X[:0], hours[:0]).predict(X)[0] - np.log(hours))
    assert np.median(fitted_errors) < 0.1 < np.median(prior_errors)


def test_with_an_empty_cache_the_model_is_the_prior_anchored_on_the_measured_point(scratch_cache):
    model = fitted_model("qe", scratch_cache)
    assert model.n_fitted_ == 0 and model.basis("qe").startswith("prior")
    check = prior_check()  # DESIGN.md's second measured point, 4-atom spin-polarised Cu-Ni-Fe
    assert abs(np.log(check["prior_core_hours"] / check["measured_core_hours"])) < PRIOR_SD[0]
    anchor = calculation_features("qe", fcc_primitive("Cu", 3.61), {"kpts": [8, 8, 8], "ecutwfc": 35.0,
                                                                      "spin": False, "mode": "static"})
    mean, sd = model.predict(anchor.vector())
    assert np.exp(mean[0]) * 3600 == pytest.approx(3.0) and sd[0] > model.noise_sd


def test_irreducible_kpoints_are_those_spglib_finds_through_pymatgen():
    for cell in (fcc_primitive("Ni", 3.52), fcc_primitive("Cu", 3.61).make_supercell([2, 1, 1], in_place=False)):
        for mesh in ([4, 4, 4], [5, 3, 6]):
            features = calculation_features("qe", cell, {"kpts": mesh, "ecutwfc": 30.0, "spin": False,
                                                         "mode": "static"})
            assert features.irreducible_kpoints == len(SpacegroupAnalyzer(cell).get_ir_reciprocal_mesh(mesh))


@needs_pw
def test_the_model_learns_from_real_pw_runs(scratch_cache):
    """Four tiny pw.x scf runs of fcc Cu (1 and 2 atoms, two meshes) fill a fresh cache; the model fits them."""
    settings = {"ecutwfc": 20.0, "ecutrho": 160.0, "conv_thr": 1e-5}
    for cell in (fcc_primitive("Cu", 3.61), fcc_primitive("Cu", 3.61).make_supercell([2, 1, 1], in_place=False)):
        for mesh in ([2, 2, 2], [6, 6, 6]):
            document, reused = validate(cell, "qe", {**settings, "kpts": mesh}, "static", database=scratch_cache)
            assert document.status == "completed" and not reused and document.core_hours > 0
    X, hours, _ = training_set("qe", scratch_cache, min_core_hours=0)
    model = fitted_model("qe", scratch_cache, min_core_hours=0)
    assert model.n_fitted_ == 4 and model.basis("qe").startswith("fitted to 4 cached qe")
    assert fitted_model("qe", scratch_cache).n_fitted_ == np.sum(hours >= MIN_FIT_CORE_HOURS)  # start-up left out
    fitted = model.predict(X)[0] - np.log(hours)
    prior = CostModel().fit(X[:0], hours[:0]).predict(X)[0] - np.log(hours)
    assert np.sum(fitted**2) < np.sum(prior**2)  # the fit moves the estimates towards what the runs took
    assert np.all(np.isfinite(leave_one_out(X, hours)))
