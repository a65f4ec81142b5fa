"""High-entropy-alloy parameters, vectorised, with the published conventions.

Columns and their relation to matminer 0.10.1 (``WenAlloys``, ``YangSolidSolution``):

==================================  =========================================================  ======================
column (units)                      definition                                                 matminer
==================================  =========================================================  ======================
n_components                        number of elements present                                 --
vec                                 Σ c_i VEC_i, VEC of Guo et al. 2011 (Miedema's valence)    "VEC mean", equal
delta_h_mix (kJ/mol)                Σ_{i<j} 4 ΔH_ij c_i c_j, Takeuchi-Inoue 2005 ΔH_ij;         "Mixing enthalpy" is
                                    signed, negative = attractive                              max(1e-6, |ΔH_mix|)
delta_s_mix (J/(mol K))             −R Σ c_i ln c_i, R = 8.314462618 (positive)                "Configuration entropy"
                                                                                               = 8.314e-3 Σ c ln c
delta (dimensionless)               sqrt(Σ c_i (1 − r_i/r̄)²), Miracle radii (Yang-Zhang 2012)  "Yang delta", equal
omega                               T_m ΔS_mix / |ΔH_mix|, |ΔH_mix| floored at 1e-6 kJ/mol     "Yang omega" × R/8.314
t_melt_mean (K)                     Σ c_i T_m,i (magpie MeltingT)                              magpie mean MeltingT
electronegativity_difference        sqrt(Σ c_i (χ_i − χ̄)²), Pauling χ (Fang 2003, Guo 2011)    --
electronegativity_delta             sqrt(Σ c_i (1 − φ_i/φ̄)²), Miedema φ* (Wen 2019)            equal
electronegativity_local_mismatch    Σ_{i<j} c_i c_j |φ_i − φ_j|  (V)                           equal
radii_local_mismatch (pm)           Σ_{i<j} c_i c_j |r_i − r_j|                                equal
radii_gamma                         solid-angle ratio of smallest/largest atom (Wen 2019)      equal
lambda_entropy                      ΔS_mix / (100 δ)², δ in percent (Singh et al. 2014);       "Lambda entropy"
                                    0 where δ = 0                                              × (−0.1 R/8.314)
ape_mean                            mean atomic packing efficiency (Laws et al. 2015)          "APE mean", equal
atomic_weight_mean (u)              Σ c_i M_i                                                  equal
cohesive_energy_mean (eV/atom)      Σ c_i E_coh,i (Kittel)                                     equal
interant_electrons, _s/_p/_d/_f     Σ over elements present of filled electrons in partly      equal
                                    filled shells (Wen 2019)
shear_modulus_mean (GPa)            Σ c_i G_i (Miedema table)                                  equal
shear_modulus_delta                 sqrt(Σ c_i (1 − G_i/Ḡ)²)                                   equal
shear_modulus_local_mismatch (GPa)  Σ_{i<j} c_i c_j |G_i − G_j|                                equal
shear_modulus_strength_model        Σ m_i / (1 + 0.5 |m_i|), m_i = 2 c_i (G_i − Ḡ)/(G_i + Ḡ)     equal
==================================  =========================================================  ======================

matminer reports ΔS_mix with the opposite sign and in kJ/(mol K), ΔH_mix as an
absolute value, and Λ from those; alloyscreen follows the literature as above.
``WenAlloys``' "Weight Fraction"/"Atomic Fraction" strings and "Total weight"
(which depends on the size of the formula unit) are not descriptors of a
normalised composition and are left out.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from alloyscreen.descriptors.compositions import Compositions
from alloyscreen.descriptors.elementdata import cohesive_energy, magpie, miedema, mixing_enthalpy

GAS_CONSTANT = 8.314462618  # J/(mol K), CODATA 2018
MIN_ABS_ENTHALPY = 1e-6  # kJ/mol, floor of |ΔH_mix| in Ω (matminer's choice)
#: ideal radius ratio of a cluster with 3..24 neighbours (Miracle, Lord and Ranganathan 2006)
IDEAL_RATIOS = np.array([
    0.154701, 0.224745, 0.361654, 0.414214, 0.518145, 0.616517, 0.709914, 0.798907, 0.884003, 0.902113,
    0.976006, 1.04733, 1.11632, 1.18318, 1.2481, 1.31123, 1.37271, 1.43267, 1.49119, 1.5484, 1.60436, 1.65915,
])

COLUMNS = (
    "n_components", "vec", "delta_h_mix", "delta_s_mix", "delta", "omega", "t_melt_mean",
    "electronegativity_difference", "electronegativity_delta", "electronegativity_local_mismatch",
    "radii_local_mismatch", "radii_gamma", "lambda_entropy", "ape_mean", "atomic_weight_mean",
    "cohesive_energy_mean", "interant_electrons", "interant_s_electrons", "interant_p_electrons",
    "interant_d_electrons", "interant_f_electrons", "shear_modulus_mean", "shear_modulus_delta",
    "shear_modulus_local_mismatch", "shear_modulus_strength_model",
)
_ELEMENT_COLUMNS = ("vec", "radius", "t_melt", "chi", "phi", "weight", "e_coh", "shear", "s", "p", "d", "f")


def _interant(shell: str, capacity: int) -> np.ndarray:
    unfilled = magpie(f"N{shell}Unfilled")
    return np.where(unfilled != 0, capacity - unfilled, 0.0)


@cache
def _table() -> np.ndarray:
    """Return the (119, 12) per-element table in the order of ``_ELEMENT_COLUMNS``."""
    data = miedema()
    return np.stack([
        data.valence_electrons, magpie("MiracleRadius"), magpie("MeltingT"), magpie("Electronegativity"),
        data.electronegativity, magpie("AtomicWeight"), cohesive_energy(), data.shear_modulus,
        _interant("s", 2), _interant("p", 6), _interant("d", 10), _interant("f", 14),
    ], axis=1)


def element_vec(z: np.ndarray) -> np.ndarray:
    """Return the valence electron concentration of elements ``z`` (Guo et al. 2011 convention)."""
    return miedema().valence_electrons[z]


def has_tabulated_vec(z: np.ndarray) -> np.ndarray:
    """Return True where Miedema's table gives the element's valence (no imputed value)."""
    return miedema().has_value[z]


def _delta(values: np.ndarray, c: np.ndarray, mean: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("nm,nm->n", c, (1.0 - values / mean[:, None]) ** 2))


def hea_parameters(comps: Compositions) -> np.ndarray:
    """Return the (n, len(COLUMNS)) HEA parameters of ``comps``, columns in ``COLUMNS`` order."""
    c, z = comps.c, comps.z
    n, m = c.shape
    per_element = _table()[z]  # (n, m, 12)
    means = np.einsum("nm,nmq->nq", c, per_element)
    col = {name: i for i, name in enumerate(_ELEMENT_COLUMNS)}
    values = {name: per_element[:, :, i] for name, i in col.items()}
    mean = {name: means[:, i] for name, i in col.items()}

    pair_a, pair_b = np.triu_indices(m, k=1)
    cc = c[:, pair_a] * c[:, pair_b]
    enthalpy = 4.0 * np.einsum("nk,nk->n", cc, mixing_enthalpy()[z[:, pair_a], z[:, pair_b]])

    def local_mismatch(name: str) -> np.ndarray:
        return np.einsum("nk,nk->n", cc, np.abs(values[name][:, pair_a] - values[name][:, pair_b]))

    entropy = -GAS_CONSTANT * np.einsum("nm,nm->n", c, np.log(np.where(c > 0, c, 1.0)))
    delta = _delta(values["radius"], c, mean["radius"])
    omega = mean["t_melt"] * entropy * 1e-3 / np.maximum(np.abs(enthalpy), MIN_ABS_ENTHALPY)
    delta_percent_sq = (100.0 * delta) ** 2
    lambda_entropy = np.divide(entropy, delta_percent_sq, out=np.zeros(n), where=delta_percent_sq != 0)

    r_mean = mean["radius"]
    r_min, r_max = values["radius"].min(axis=1), values["radius"].max(axis=1)
    gamma = (1 - np.sqrt((r_mean * r_min + r_min**2) / (r_mean + r_min) ** 2)) / (
        1 - np.sqrt((r_mean * r_max + r_max**2) / (r_mean + r_max) ** 2)
    )

    present = comps.present
    interant = np.einsum("nm,nmq->nq", present.astype(np.float64), per_element[:, :, col["s"]:])

    shear, g_mean = values["shear"], mean["shear"]
    modulus = 2 * c * (shear - g_mean[:, None]) / (shear + g_mean[:, None])

    return np.column_stack([
        present.sum(axis=1),
        mean["vec"],
        enthalpy,
        entropy,
        delta,
        omega,
        mean["t_melt"],
        np.sqrt(np.einsum("nm,nm->n", c, (values["chi"] - mean["chi"][:, None]) ** 2)),
        _delta(values["phi"], c, mean["phi"]),
        local_mismatch("phi"),
        local_mismatch("radius"),
        gamma,
        lambda_entropy,
        np.einsum("nm,nm->n", c, _packing_efficiency(values["radius"] / r_mean[:, None])),
        mean["weight"],
        mean["e_coh"],
        interant.sum(axis=1),
        interant,
        g_mean,
        _delta(shear, c, g_mean),
        local_mismatch("shear"),
        (modulus / (1 + 0.5 * np.abs(modulus))).sum(axis=1),
    ])


def _packing_efficiency(ratio: np.ndarray) -> np.ndarray:
    """Return the best atomic packing efficiency 1 − R*_n / ratio over cluster sizes n = 3..24.

    The best size is the one whose ideal ratio R*_n is nearest to ``ratio`` (the smaller size on
    a tie), as in matminer's ``AtomicPackingEfficiency.find_ideal_cluster_size``.
    """
    last = len(IDEAL_RATIOS) - 1
    upper = np.clip(np.searchsorted(IDEAL_RATIOS, ratio, side="left"), 0, last)
    lower = np.clip(upper - 1, 0, last)
    ape_lower = 1 - IDEAL_RATIOS[lower] / ratio
    ape_upper = 1 - IDEAL_RATIOS[upper] / ratio
    return np.where(np.abs(ape_lower) <= np.abs(ape_upper), ape_lower, ape_upper)
