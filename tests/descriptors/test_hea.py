"""HEA parameters: equal to matminer where conventions agree, literature conventions where not."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from matminer.featurizers.composition import WenAlloys, YangSolidSolution
from pymatgen.core import Composition

from alloyscreen.descriptors import Compositions, featurize
from alloyscreen.descriptors.hea import COLUMNS, GAS_CONSTANT

MATMINER_R = 8.314  # J/(mol K), the gas constant in matminer's code
POOL = ["Al", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zr", "Nb", "Mo", "Ru", "Rh", "Pd", "Ag", "Hf", "Ta", "W",
        "Ir", "Pt", "Au", "Si", "C", "B", "Mg", "Sn", "Zn", "Y", "La", "O"]
EQUAL = {
    "vec": "VEC mean", "delta": "Yang delta", "electronegativity_delta": "Electronegativity delta",
    "electronegativity_local_mismatch": "Electronegativity local mismatch",
    "radii_local_mismatch": "Radii local mismatch", "radii_gamma": "Radii gamma", "ape_mean": "APE mean",
    "atomic_weight_mean": "Atomic weight mean", "cohesive_energy_mean": "Mean cohesive energy",
    "interant_electrons": "Interant electrons", "interant_s_electrons": "Interant s electrons",
    "interant_p_electrons": "Interant p electrons", "interant_d_electrons": "Interant d electrons",
    "interant_f_electrons": "Interant f electrons", "shear_modulus_mean": "Shear modulus mean",
    "shear_modulus_delta": "Shear modulus delta", "shear_modulus_local_mismatch": "Shear modulus local mismatch",
    "shear_modulus_strength_model": "Shear modulus strength model",
}


@pytest.fixture(scope="module")
def compared():
    rng = np.random.default_rng(3)
    compositions = []
    for i in range(100):
        k = int(rng.integers(1, 8))
        elements = rng.choice(POOL, k, replace=False).tolist()
        fractions = np.full(k, 1.0 / k) if i % 5 == 0 else rng.dirichlet(np.ones(k))
        compositions.append(dict(zip(elements, fractions.tolist(), strict=True)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wen = WenAlloys()
        rows = [wen.featurize(Composition(c)) for c in compositions]
        yang = np.array([YangSolidSolution().featurize(Composition(c)) for c in compositions[:40]])
    expected = {label: np.array([row[i] for row in rows], dtype=object) for i, label in enumerate(wen.feature_labels())}
    return featurize(Compositions.from_dicts(compositions), columns=list(COLUMNS)), expected, yang


def test_equal_to_wen_alloys(compared):
    ours, expected, _ = compared
    for column, label in EQUAL.items():
        np.testing.assert_allclose(ours.column(column), expected[label].astype(float), rtol=1e-6, atol=1e-10,
                                   err_msg=column)


def test_literature_conventions_against_matminer(compared):
    ours, expected, yang = compared
    scale = GAS_CONSTANT / MATMINER_R
    # ΔS_mix = -R Σ c ln c in J/(mol K), positive; matminer: R Σ c ln c / 1000 (kJ/(mol K), negative)
    entropy = expected["Configuration entropy"].astype(float)
    np.testing.assert_allclose(ours.column("delta_s_mix"), -1000 * scale * entropy, rtol=1e-9, atol=1e-12)
    assert (ours.column("delta_s_mix") >= 0).all()
    # ΔH_mix signed; matminer reports max(1e-6, |ΔH_mix|)
    np.testing.assert_allclose(np.maximum(np.abs(ours.column("delta_h_mix")), 1e-6),
                               expected["Mixing enthalpy"].astype(float), rtol=1e-9)
    assert (ours.column("delta_h_mix") < 0).any() and (ours.column("delta_h_mix") > 0).any()
    np.testing.assert_allclose(ours.column("omega"), scale * expected["Yang omega"].astype(float), rtol=1e-9)
    # Λ = ΔS_mix / δ², δ in percent (Singh et al. 2014); matminer: S(kJ/(mol K), negative) / δ² (fraction)
    np.testing.assert_allclose(ours.column("lambda_entropy"), -0.1 * scale * expected["Lambda entropy"].astype(float),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.values[:40, [ours.columns.index("omega"), ours.columns.index("delta")]],
                               yang * [scale, 1.0], rtol=1e-9)


def test_cantor_alloy_by_hand():
    """CoCrFeMnNi: ΔS = R ln 5, ΔH = Σ 4 ΔH_ij / 25 from the Takeuchi-Inoue values, VEC = 8."""
    table = featurize(Compositions.from_formulas(["CoCrFeMnNi"]), columns=list(COLUMNS))
    row = table.row(0)
    assert row["delta_s_mix"] == pytest.approx(GAS_CONSTANT * np.log(5), rel=1e-12)
    pairs = {("Co", "Cr"): -4, ("Co", "Fe"): -1, ("Co", "Mn"): -5, ("Co", "Ni"): 0, ("Cr", "Fe"): -1,
             ("Cr", "Mn"): 2, ("Cr", "Ni"): -7, ("Fe", "Mn"): 0, ("Fe", "Ni"): -2, ("Mn", "Ni"): -8}
    assert row["delta_h_mix"] == pytest.approx(4 * sum(pairs.values()) / 25, rel=1e-12)
    assert row["vec"] == pytest.approx((9 + 6 + 8 + 7 + 10) / 5)
    assert row["n_components"] == 5
    # Pauling Δχ = sqrt(Σ c (χ - χ̄)²)
    chi = np.array([1.88, 1.66, 1.83, 1.55, 1.91])
    assert row["electronegativity_difference"] == pytest.approx(np.sqrt(np.mean((chi - chi.mean()) ** 2)), rel=1e-9)
    assert row["omega"] == pytest.approx(row["t_melt_mean"] * row["delta_s_mix"] / 1000 / abs(row["delta_h_mix"]))


def test_pure_element_is_ideal():
    row = featurize(Compositions.from_formulas(["Cu"]), columns=list(COLUMNS)).row(0)
    assert row["delta_s_mix"] == 0 and row["delta_h_mix"] == 0 and row["delta"] == 0
    assert row["omega"] == 0 and row["lambda_entropy"] == 0 and row["electronegativity_difference"] == 0
