"""EMT through the validation interface: real relaxations, the cache, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import JobStore
from jobflow.managers.local import run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Lattice, Structure
from tests.validation.conftest import fcc_primitive

from alloyscreen.errors import AlloyscreenError
from alloyscreen.validation.maker import ValidationMaker, calculation_id, validate


def test_vc_relax_finds_the_emt_lattice_constant(database):
    doc, reused = validate(fcc_primitive("Cu", 3.75), "emt", {"fmax": 0.005}, "vc-relax", database=database)
    final = Structure.from_dict(doc.final_structure)
    a = final.lattice.a * 2**0.5
    assert not reused and doc.status == "completed" and doc.converged
    assert a == pytest.approx(3.59, abs=0.01)  # ASE EMT Cu (Jacobsen et al.)
    assert doc.energy_per_atom == pytest.approx(doc.energy)
    assert doc.core_hours == pytest.approx(doc.wall_time_s / 3600)
    assert np.abs(np.array(doc.stress)).max() < 0.5  # GPa


def test_second_call_reuses_the_stored_calculation(database, cu3au):
    first, reused_first = validate(cu3au, "emt", {}, "relax", database=database)
    count = database["calculations"].count_documents({})
    second, reused_second = validate(cu3au, "emt", {}, "relax", database=database)
    assert (reused_first, reused_second) == (False, True)
    assert database["calculations"].count_documents({}) == count
    assert second.id == first.id and second.provenance.created_at == first.provenance.created_at
    assert second.energy == first.energy


def test_id_depends_on_settings_and_structure(cu3au):
    other = cu3au.copy()
    other.perturb(0.01, min_distance=0.01)
    ids = {
        calculation_id(cu3au, "emt", {"fmax": 0.02}, "ase-1"),
        calculation_id(cu3au, "emt", {"fmax": 0.01}, "ase-1"),
        calculation_id(cu3au, "emt", {"fmax": 0.02}, "ase-2"),
        calculation_id(other, "emt", {"fmax": 0.02}, "ase-1"),
    }
    assert len(ids) == 4
    shifted = cu3au.copy()
    shifted.translate_sites(list(range(len(shifted))), [1.0, 0, 0])  # a lattice vector: same crystal
    assert calculation_id(shifted, "emt", {}, "v") == calculation_id(cu3au, "emt", {}, "v")


def test_maker_job_runs_locally_and_reports_reuse(database, cu3au):
    maker = ValidationMaker(calculator="emt", relax_cell=False)
    cu3au.scale_lattice(cu3au.volume * 1.01)  # not calculated by the other tests
    outputs = []
    for _ in range(2):
        job = maker.make(cu3au, candidate_id="cand-1")
        responses = run_locally(job, store=JobStore(MemoryStore()), ensure_success=True)
        outputs.append(responses[job.uuid][1].output)
    assert [out.reused for out in outputs] == [False, True]
    assert outputs[0].candidate_id == "cand-1"
    assert outputs[0].calculation.settings["mode"] == "relax"
    assert outputs[1].calculation.provenance.job_uuid == outputs[0].calculation.provenance.job_uuid


@pytest.mark.parametrize(
    ("calculator", "settings", "structure", "message"),
    [
        ("emt", {}, Structure(Lattice.cubic(3.0), ["Fe"], [[0, 0, 0]]), r"cannot treat element\(s\) \['Fe'\]"),
        ("emt", {"fmaks": 0.1}, None, r"unknown emt setting\(s\) \['fmaks'\]; allowed: fmax"),
        ("emt", {"fmax": "x"}, None, r"emt setting 'fmax' is 'x'; allowed: a number > 0"),
        ("emt", {"steps": 0}, None, r"emt setting 'steps' is 0; allowed: an integer > 0"),
        ("emt", {"steps": 1.5}, None, r"emt setting 'steps' is 1\.5; allowed: an integer > 0"),
        ("emt", {"optimizer": 3}, None, r"emt setting 'optimizer' is 3; allowed: a str"),
        ("qe", {"max_corrections": -1}, None, r"qe setting 'max_corrections' is -1; allowed: an integer >= 0"),
        ("nwchem", {}, None, r"unknown calculator 'nwchem'; allowed: emt, chgnet, qe, vasp"),
        ("emt", {}, Structure(Lattice.cubic(4.0), ["Cu", "Cu"], [[0, 0, 0], [0.05, 0, 0]]), r"0\.200 A apart"),
    ],
)
def test_bad_input_is_one_clear_line(calculator, settings, structure, message, cu3au):
    with pytest.raises(AlloyscreenError, match=message) as error:
        ValidationMaker(calculator=calculator, settings=settings).make(structure or cu3au)
    assert "\n" not in str(error.value)


def test_bad_mode_is_refused(cu3au):
    with pytest.raises(AlloyscreenError, match="mode 'md' is not allowed; allowed: static, relax, vc-relax"):
        validate(cu3au, "emt", {}, "md")


def test_fixed_bottom_layers_stay_put_and_enter_the_calculation_id(database):
    import numpy as np
    from pymatgen.core import Structure

    from alloyscreen.structures.slabs import make_slab
    from alloyscreen.validation.maker import validate

    slab = make_slab({"Pt": 0.5, "Cu": 0.5}, "fcc", size=(2, 2), layers=3, fixed_layers=1, seed=0).structure
    document, _ = validate(slab, "emt", {}, "relax")
    moved = np.linalg.norm(Structure.from_dict(document.final_structure).cart_coords - slab.cart_coords, axis=1)
    fixed = [i for i, flags in enumerate(slab.site_properties["selective_dynamics"]) if not any(flags)]
    assert len(fixed) == 4 and moved[fixed].max() < 1e-8 and moved.max() > 0.01
    free = Structure(slab.lattice, slab.species, slab.frac_coords)
    unconstrained, _ = validate(free, "emt", {}, "relax")
    assert unconstrained.id != document.id and unconstrained.energy < document.energy
