"""Pretrained SevenNet 7net-0 (weights in the sevenn wheel) through atomate2's force-field maker."""

from __future__ import annotations

from importlib import metadata

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from alloyscreen.errors import AlloyscreenError
from alloyscreen.validation.maker import ValidationMaker, call_here, validate
from alloyscreen.validation.physics import pool_settings
from alloyscreen.validation.sevennet import model_elements
from alloyscreen.validation.targets import MixingEnergyMaker

pytestmark = pytest.mark.gnn


@pytest.fixture
def cuni_l10() -> Structure:
    """L1_0 CuNi, 2 atoms (a = c / sqrt(2): the fcc cell of Vegard's lattice constant)."""
    return Structure(Lattice.tetragonal(3.565 / 2**0.5, 3.565), ["Cu", "Ni"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_static_on_fcc_cu_is_cached(database, cu_fcc):
    doc, reused = validate(cu_fcc, "sevennet", {}, "static", database=database)
    assert not reused and doc.status == "completed" and doc.n_ionic_steps == 1
    assert doc.energy_per_atom == pytest.approx(-4.10, abs=0.05)  # MPtrj (PBE) scale: Materials Project fcc Cu
    assert np.allclose(doc.forces, 0.0, atol=1e-4)  # every atom an inversion centre
    assert doc.code_version == f"sevenn-{metadata.version('sevenn')}-model-7net-0"
    count = database["calculations"].count_documents({})
    again, reused = validate(cu_fcc, "sevennet", {}, "static", database=database)
    assert reused and again.id == doc.id and again.energy == doc.energy
    assert database["calculations"].count_documents({}) == count


def test_relax_moves_a_displaced_atom_back(database, cuni_l10):
    displaced = cuni_l10.copy()
    displaced.translate_sites([1], [0.0, 0.0, 0.03])  # 0.11 A along c: the centred site is the minimum
    static, _ = validate(displaced, "sevennet", {}, "static", database=database)
    relaxed, _ = validate(displaced, "sevennet", {"fmax": 0.01}, "relax", database=database)
    assert relaxed.converged and relaxed.n_ionic_steps > 1 and relaxed.energy < static.energy
    assert np.abs(relaxed.forces).max() < 0.01
    final = Structure.from_dict(relaxed.final_structure)
    assert final.lattice.abc == pytest.approx(cuni_l10.lattice.abc)  # relax, not vc-relax: the cell stays
    assert final.frac_coords[1] - final.frac_coords[0] == pytest.approx([0.5, 0.5, 0.5], abs=2e-3)


def test_cu_ni_mixes_endothermically(database, cuni_l10):
    # Cu-Ni has a miscibility gap: measured ΔH_mix of the fcc solution near x = 0.5 is about +2.5 kJ/mol
    # (+0.026 eV/atom; Hultgren et al., Selected Values of the Thermodynamic Properties of Binary Alloys, 1973)
    maker = MixingEnergyMaker(validation=ValidationMaker(calculator="sevennet", relax_cell=True))
    outcome = call_here(maker.make(cuni_l10, candidate_id="CuNi-L10-sevennet"))
    label = database["labels"].find_one({"_id": outcome.label_id})
    assert label["calculator"] == "sevennet" and len(label["reference_calculation_ids"]) == 2
    assert 0.0 < outcome.value < 0.06  # eV/atom (7net-0 puts hcp Cu 1.3 meV/atom below fcc: the Cu reference)


def test_allowed_elements_are_the_models():
    elements = model_elements("7net-0")
    assert len(elements) == 89 and elements[:3] == ("H", "He", "Li") and elements[-1] == "Pu"
    assert "Po" not in elements


@pytest.mark.parametrize(("elements", "settings", "message"), [
    (["Cu", "Po"], {}, r"sevennet cannot treat element\(s\) \['Po'\]; allowed: H, He, Li, .*, Bi, Ac, .*, Pu$"),
    (["Cu", "Ni"], {"model": "7net-omat"}, r"sevennet model '7net-omat' is not shipped .*; allowed: 7net-0, "),
    (["Cu", "Ni"], {"fmaks": 0.1}, r"unknown sevennet setting\(s\) \['fmaks'\]; allowed: fmax"),
])
def test_bad_input_is_one_line(elements, settings, message):
    with pytest.raises(AlloyscreenError, match=message) as error:
        pool_settings("sevennet", elements, settings)
    assert "\n" not in str(error.value)

