"""One set of physics settings per stage: pool resolution, the label check, portable calculation ids."""

from __future__ import annotations

import shutil

import pytest
from ase.build import fcc111
from pymatgen.core import Structure
from tests.validation.conftest import fcc_primitive

from alloyscreen.validation.maker import calculation_id, validate
from alloyscreen.validation.physics import PhysicsMismatchError, check_same_physics, pool_settings
from alloyscreen.validation.pseudo import DEFAULT_PSEUDO_DIR
from alloyscreen.validation.qe import QECalculator
from alloyscreen.validation.targets import build_label

needs_pseudo = pytest.mark.skipif(not shutil.os.path.isdir(DEFAULT_PSEUDO_DIR), reason="no QE pseudopotentials")


@needs_pseudo
def test_an_alloy_and_its_references_resolve_to_the_same_qe_physics(cu3au):
    calc = QECalculator()
    alone = calc.resolve(fcc_primitive("Cu", 3.61), {}, "vc-relax")[0]
    settings = pool_settings("qe", ["Cu", "Ni"], {})
    cu = calc.resolve(fcc_primitive("Cu", 3.61), settings, "vc-relax")[0]
    cuni = calc.resolve(Structure(cu3au.lattice, ["Ni", "Cu", "Cu", "Cu"], cu3au.frac_coords), settings, "static")[0]
    # per structure, Cu alone would run at its own header cutoffs and without spin (the bug this fixes)
    assert (alone["ecutwfc"], alone["spin"]) != (cu["ecutwfc"], cu["spin"])
    for key in ("ecutwfc", "ecutrho", "spin", "smearing", "degauss", "kspacing", "functional"):
        assert cu[key] == cuni[key], key
    assert cu["spin"] is True and cu["pseudo_sha256"]["Cu"] == cuni["pseudo_sha256"]["Cu"]
    assert cu["ecutwfc"] == max(alone["ecutwfc"], calc.resolve(fcc_primitive("Ni", 3.52), {}, "static")[0]["ecutwfc"])


@needs_pseudo
def test_a_slab_and_the_slab_with_h_share_their_cutoffs():
    slab = Structure.from_ase_atoms(fcc111("Cu", size=(2, 2, 2), vacuum=5.0, a=3.61))
    with_h = slab.copy()
    with_h.append("H", slab.cart_coords[-1] + [0, 0, 1.5], coords_are_cartesian=True)
    settings = pool_settings("qe", ["Cu", "H"], {})
    calc = QECalculator()
    clean, covered = (calc.resolve(s, settings, "relax")[0] for s in (slab, with_h))
    assert (clean["ecutwfc"], clean["ecutrho"], clean["spin"]) == (covered["ecutwfc"], covered["ecutrho"],
                                                                   covered["spin"])
    assert calc.resolve(slab, {}, "relax")[0]["ecutrho"] < covered["ecutrho"]  # the H file asks for more


@needs_pseudo
def test_calculation_ids_hash_pseudopotential_contents_not_paths(tmp_path):
    copy = tmp_path / "pseudo"
    copy.mkdir()
    calc = QECalculator()
    original = calc.resolve(fcc_primitive("Cu", 3.61), {}, "static")[0]
    shutil.copy(f"{DEFAULT_PSEUDO_DIR}/{original['pseudopotentials']['Cu']}", copy / "Cu.renamed.UPF")
    moved = calc.resolve(fcc_primitive("Cu", 3.61), {"pseudo_dir": str(copy)}, "static")[0]
    assert moved["pseudo_dir"] != original["pseudo_dir"]
    structure = fcc_primitive("Cu", 3.61)
    assert calculation_id(structure, "qe", moved, "v") == calculation_id(structure, "qe", original, "v")
    edited = copy / "Cu.renamed.UPF"
    edited.write_text(edited.read_text() + "\n")
    changed = calc.resolve(fcc_primitive("Cu", 3.61), {"pseudo_dir": str(copy)}, "static")[0]
    assert calculation_id(structure, "qe", changed, "v") != calculation_id(structure, "qe", original, "v")


def test_a_label_refuses_calculations_with_different_physics(database):
    loose, _ = validate(fcc_primitive("Cu", 3.61), "emt", {"fmax": 0.05}, "vc-relax", database=database)
    tight, _ = validate(fcc_primitive("Au", 4.08), "emt", {"fmax": 0.02}, "vc-relax", database=database)
    with pytest.raises(PhysicsMismatchError, match=r"differ in emt setting 'fmax': 0\.05 vs 0\.02"):
        build_label("x", "mixing_energy_per_atom", 0.0, "eV/atom", [loose], [tight])
    same, _ = validate(fcc_primitive("Au", 4.08), "emt", {"fmax": 0.05}, "static", database=database)
    check_same_physics([loose, same])  # the mode is not physics: a static and a relaxation may be combined


def test_pool_settings_name_what_a_calculator_cannot_treat():
    with pytest.raises(Exception, match=r"emt cannot treat element\(s\) \['Fe'\]; allowed: Al, Cu"):
        pool_settings("emt", ["Cu", "Fe"], {})
    with pytest.raises(Exception, match=r"unknown chgnet setting\(s\) \['fmx'\]"):
        pool_settings("chgnet", ["Cu"], {"fmx": 0.1})
