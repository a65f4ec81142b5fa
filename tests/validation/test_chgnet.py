"""Pretrained CHGNet through atomate2's force-field maker, behind the validation interface."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from alloyscreen.validation.maker import validate

pytestmark = pytest.mark.gnn


def test_static_on_a_small_cell_is_cached(database):
    cuni = Structure(Lattice.cubic(2.9), ["Cu", "Ni"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    doc, reused = validate(cuni, "chgnet", {}, "static", database=database)
    assert not reused and doc.status == "completed" and doc.n_ionic_steps == 1
    assert -6.0 < doc.energy_per_atom < -3.0  # eV/atom, MPtrj (PBE) scale for Cu-Ni
    assert np.allclose(np.sum(doc.forces, axis=0), 0.0, atol=1e-3)
    assert Structure.from_dict(doc.final_structure).lattice.a == cuni.lattice.a
    assert doc.code_version == "chgnet-0.4.2-model-0.3.0" or doc.code_version.endswith("model-0.3.0")
    again, reused = validate(cuni, "chgnet", {}, "static", database=database)
    assert reused and again.energy == doc.energy
