"""Train a tiny matgl MEGNet on EMT energies, save, reload, reproduce predictions (~15 s)."""

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from pymatgen.io.ase import AseAtomsAdaptor

from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.ensemble import TooFewLabelsError, model_id
from alloyscreen.surrogates.gnn import MatglRegressor
from alloyscreen.surrogates.registry import load_model, model_document

pytestmark = [pytest.mark.gnn, pytest.mark.slow]


@pytest.fixture(scope="module")
def emt_data():
    """10 tiny cells (strained fcc Cu, Ni, Al and a CuNi L1_0-like cell) with EMT energies per atom."""
    cells = [bulk(el, "fcc", a=a * f) for el, a in (("Cu", 3.61), ("Ni", 3.52), ("Al", 4.05)) for f in (0.97, 1, 1.03)]
    alloy = bulk("Cu", "fcc", a=3.58, cubic=True)
    alloy[0].symbol = alloy[1].symbol = "Ni"
    cells.append(alloy)
    energies = []
    for atoms in cells:
        atoms.calc = EMT()
        energies.append(atoms.get_potential_energy() / len(atoms))
    return [AseAtomsAdaptor.get_structure(a) for a in cells], np.array(energies)


def test_train_save_load_reproduces(emt_data, tmp_path):
    structures, y = emt_data
    model = MatglRegressor(max_epochs=8, batch_size=5, lr=1e-2, element_types=("Cu", "Ni", "Al", "Pd"))
    assert model.fit(structures, y) is model
    assert model.element_types_ == ("Al", "Ni", "Cu", "Pd")
    pred = model.predict(structures)
    assert pred.shape == (10,) and np.all(np.isfinite(pred))
    # predictions are on the scale of the labels (normalisation undone), not of N(0, 1)
    assert abs(pred.mean() - y.mean()) < 2 * y.std()

    loaded = MatglRegressor.load(model.save(tmp_path / "megnet"))
    assert np.array_equal(loaded.predict(structures), pred)
    assert (tmp_path / "megnet" / "model.json").exists()

    blob = model.to_bytes()
    assert np.array_equal(MatglRegressor.from_bytes(blob).predict(structures), pred)
    doc = model_document(model, blob, "energy_per_atom", [f"l{i}" for i in range(10)])
    assert doc.id == model_id(blob) and doc.kind == "matgl-megnet" and doc.feature_set is None
    assert np.array_equal(load_model(doc.kind, blob).predict(structures), pred)

    with pytest.raises(AlloyscreenError, match=r"elements \['Au'\] are unknown"):
        model.predict([AseAtomsAdaptor.get_structure(bulk("Au", "fcc", a=4.08))])


def test_delta_learning_adds_the_baseline(emt_data):
    structures, y = emt_data
    baseline = y + 0.05 * np.arange(10)  # stands in for CHGNet energies per atom
    model = MatglRegressor(max_epochs=2, batch_size=5).fit(structures, y, baseline=baseline)
    correction = model.predict(structures, baseline=np.zeros(10))
    np.testing.assert_allclose(model.predict(structures, baseline=baseline), baseline + correction)
    assert model.target_mean_ == pytest.approx(np.mean(y - baseline))
    with pytest.raises(AlloyscreenError, match="Δ-learning"):
        model.predict(structures)


def test_too_few_structures(emt_data):
    structures, y = emt_data
    with pytest.raises(TooFewLabelsError, match="at least 5 labels, got 3"):
        MatglRegressor().fit(structures[:3], y[:3])
