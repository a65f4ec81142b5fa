"""No silent unconverged labels: an ASE relaxation stopped before its fmax fails, or runs again corrected."""

from __future__ import annotations

import re

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from alloyscreen.validation.maker import ValidationMaker, call_here, prepare, validate
from alloyscreen.validation.targets import MixingEnergyMaker

REASON = re.compile(r"not converged: (?P<name>\w+) (?P<mode>[a-z-]+) of Cu3Au1 stopped at its step limit "
                    r"\((?P<steps>\d+) (?P<optimizer>\w+) steps\) with fmax (?P<fmax>\d+\.\d+(e-?\d+)?) eV/A "
                    r"above the criterion (?P<criterion>[\d.]+) eV/A")


def distorted_cu3au(scale: float) -> Structure:
    """L1_2 Cu3Au with one Cu pushed off its site (``scale``: a volume factor no other test uses)."""
    coords = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    structure = Structure(Lattice.cubic(3.75), ["Au", "Cu", "Cu", "Cu"], coords)
    structure.translate_sites([1], [0.04, 0.02, 0.0])
    structure.scale_lattice(structure.volume * scale)
    return structure


def test_an_unconverged_relaxation_is_no_label_until_a_corrected_retry_converges(database):
    structure = distorted_cu3au(1.002)
    settings = {"steps": 8, "fmax": 0.02}  # 8 FIRE steps do not reach 0.02 eV/A from this start; 8 + 16 do
    key = prepare(structure, "emt", settings, "vc-relax").key

    unconverged = MixingEnergyMaker(validation=ValidationMaker(calculator="emt", settings=settings))
    kept = call_here(unconverged.make(structure, "unconv"))
    failed = database["calculations"].find_one({"_id": key})
    reason = REASON.fullmatch(failed["error"])
    assert reason, failed["error"]
    assert (reason["name"], reason["mode"], reason["steps"], reason["optimizer"]) == ("EMT", "vc-relax", "8", "FIRE")
    assert float(reason["criterion"]) == 0.02 and float(reason["fmax"]) > 0.02
    assert (failed["status"], failed["converged"], failed["energy"], failed["attempts"]) == ("failed", False, None, 1)
    assert failed["final_structure"] is not None  # the last geometry, where a corrected attempt goes on
    assert (kept.status, kept.error, kept.label_id, kept.value) == ("failed", failed["error"], None, None)
    assert database["labels"].count_documents({"candidate_id": "unconv"}) == 0

    maker = MixingEnergyMaker(validation=ValidationMaker(calculator="emt", settings=settings, retries=1))
    label = call_here(maker.make(structure, "unconv"))
    done = database["calculations"].find_one({"_id": key})  # the same id: that of the settings asked for
    assert (label.status, label.calculation_id) == ("completed", key)
    assert (done["status"], done["converged"], done["attempts"], done["earlier_errors"]) == (
        "completed", True, 2, [failed["error"]])
    assert done["corrections"] == [{"step": 1, "reason": failed["error"],
                                    "changes": {"steps": 16, "restart_from": "last geometry"}}]
    assert done["settings"]["steps"] == 8 and done["input_structure"] == failed["input_structure"]
    assert np.abs(np.array(done["forces"])).max() < 0.02
    assert done["wall_time_s"] > failed["wall_time_s"] and done["n_ionic_steps"] > failed["n_ionic_steps"]
    stored = database["labels"].find_one({"candidate_id": "unconv"})
    assert stored["_id"] == label.label_id and stored["calculation_ids"] == [key]

    count = database["calculations"].count_documents({})
    again = call_here(maker.make(structure, "unconv"))  # a rerun of the campaign: nothing runs again
    assert (again.status, again.reused, again.label_id) == ("completed", True, label.label_id)
    assert database["calculations"].count_documents({}) == count
    assert database["calculations"].find_one({"_id": key})["provenance"] == done["provenance"]


def test_corrections_go_on_from_the_stored_failure_and_switch_fire_to_bfgs(database):
    structure = distorted_cu3au(1.004)
    settings = {"steps": 2, "fmax": 0.01}
    doc, reused = validate(structure, "emt", settings, "relax", database=database, retries=1)
    assert (doc.status, doc.attempts, reused, doc.energy) == ("failed", 2, False, None)
    assert [c.changes for c in doc.corrections] == [{"steps": 4, "restart_from": "last geometry"}]
    reason = REASON.fullmatch(doc.error.removesuffix(" (1 correction(s) applied)"))
    assert doc.error.endswith(" (1 correction(s) applied)") and reason, doc.error
    assert (reason["steps"], reason["optimizer"], reason["criterion"]) == ("4", "FIRE", "0.01")
    assert doc.corrections[0].reason == doc.earlier_errors[0]

    kept, reused = validate(structure, "emt", settings, "relax", database=database, retries=1)
    assert (kept.status, kept.attempts, reused) == ("failed", 2, True)  # the policy is spent: the failure is final

    done, reused = validate(structure, "emt", settings, "relax", database=database, retries=2)
    assert (done.status, done.converged, done.attempts, reused) == ("completed", True, 3, False)
    assert [c.changes for c in done.corrections] == [
        {"steps": 4, "restart_from": "last geometry"},
        {"steps": 8, "optimizer": "BFGSLineSearch", "restart_from": "last geometry"}]
    assert done.corrections[1].reason == doc.error and done.earlier_errors == [doc.earlier_errors[0], doc.error]


def test_a_corrected_attempt_keeps_the_fixed_atoms_of_the_input(database):
    structure = distorted_cu3au(1.006)
    fixed = structure[1].coords.copy()
    structure.add_site_property("selective_dynamics", [[True] * 3, [False] * 3, [True] * 3, [True] * 3])
    doc, _ = validate(structure, "emt", {"steps": 4, "fmax": 0.02}, "relax", database=database, retries=2)
    final = Structure.from_dict(doc.final_structure)
    assert doc.status == "completed" and doc.corrections  # it ran again from the last geometry
    assert final[1].coords == pytest.approx(fixed, abs=1e-9)
    assert np.linalg.norm(final[2].coords - structure[2].coords) > 0.01  # the free atoms moved


def test_a_static_calculation_is_never_unconverged(database):
    structure = distorted_cu3au(1.008)
    doc, reused = validate(structure, "emt", {"steps": 2, "fmax": 1e-6}, "static", database=database, retries=1)
    assert (doc.status, doc.converged, doc.attempts, doc.corrections, doc.error, reused) == (
        "completed", True, 1, None, None, False)
    assert doc.energy is not None and np.abs(np.array(doc.forces)).max() > 0.1  # far from relaxed, still a result


@pytest.mark.gnn  # CHGNet
def test_a_chgnet_relaxation_stopped_before_its_fmax_runs_again_corrected(database):
    structure = distorted_cu3au(1.0)
    doc, reused = validate(structure, "chgnet", {"steps": 2, "fmax": 0.001}, "relax", database=database, retries=1)
    first = REASON.fullmatch(doc.earlier_errors[0])
    assert first and (first["name"], first["steps"], first["criterion"]) == ("CHGNet", "2", "0.001"), doc.earlier_errors
    assert (doc.status, doc.converged, doc.attempts, doc.energy, reused) == ("failed", False, 2, None, False)
    assert [c.changes for c in doc.corrections] == [{"steps": 4, "restart_from": "last geometry"}]
    assert REASON.fullmatch(doc.error.removesuffix(" (1 correction(s) applied)"))["steps"] == "4"
