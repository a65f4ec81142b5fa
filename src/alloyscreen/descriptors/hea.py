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

from collections.abc import Callable
from functools import cache, cached_property

import numpy as np

from alloyscreen.descriptors.compositions import Compositions, ideal_mixing_entropy
from alloyscreen.descriptors.elementdata import cohesive_energy, magpie, miedema, mixing_enthalpy

GAS_CONSTANT = 8.314462618  # J/(mol K), CODATA 2018
MIN_ABS_ENTHALPY = 1e-6  # kJ/mol, floor of |ΔH_mix| in Ω (matminer's choice)
#: ideal radius ratio of a cluster with 3..24 neighbours (Miracle, Lord and Ranganathan 2006)
IDEAL_RATIOS = np.array([
    0.154701, 0.224745, 0.361654, 0.414214, 0.518145, 0.616517, 0.709914, 0.798907, 0.884003, 0.902113,
    0.976006, 1.04733, 1.11632, 1.18318, 1.2481, 1.31123, 1.37271, 1.43267, 1.49119, 1.5484, 1.60436, 1.65915,
])
ELEMENT_COLUMNS = ("vec", "radius", "t_melt", "chi", "phi", "weight", "e_coh", "shear", "s", "p", "d", "f")
_INDEX = {name: i for i, name in enumerate(ELEMENT_COLUMNS)}


def _interant(shell: str, capacity: int) -> np.ndarray:
    unfilled = magpie(f"N{shell}Unfilled")
    return np.where(unfilled != 0, capacity - unfilled, 0.0)


@cache
def element_data() -> np.ndarray:
    """Return the (119, 12) per-element table in the order of ``ELEMENT_COLUMNS``."""
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


class _Block:
    """What the HEA parameters of some compositions share, each part computed when a column first needs it."""

    def __init__(self, comps: Compositions):
        self.c, self.z, self.present = comps.c, comps.z, comps.present

    @cached_property
    def per_element(self) -> np.ndarray:
        """(n, m, 12) element data of every slot, in ``ELEMENT_COLUMNS`` order."""
        return element_data()[self.z]

    @cached_property
    def means(self) -> np.ndarray:
        """(n, 12) fraction-weighted means of the element data."""
        return np.einsum("nm,nmq->nq", self.c, self.per_element)

    def values(self, name: str) -> np.ndarray:
        """(n, m) element data ``name`` of every slot."""
        return self.per_element[:, :, _INDEX[name]]

    def mean(self, name: str) -> np.ndarray:
        """(n,) fraction-weighted mean of element data ``name``."""
        return self.means[:, _INDEX[name]]

    def delta(self, name: str) -> np.ndarray:
        """sqrt(Σ c_i (1 − x_i/x̄)²) of element data ``name``."""
        return _delta(self.values(name), self.c, self.mean(name))

    @cached_property
    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Slots ``a < b`` of every pair and the products c_a c_b, (n, pairs)."""
        a, b = np.triu_indices(self.c.shape[1], k=1)
        return a, b, self.c[:, a] * self.c[:, b]

    def local_mismatch(self, name: str) -> np.ndarray:
        """Σ_{i<j} c_i c_j |x_i − x_j| of element data ``name``."""
        a, b, cc = self.pairs
        values = self.values(name)
        return np.einsum("nk,nk->n", cc, np.abs(values[:, a] - values[:, b]))

    @cached_property
    def enthalpy(self) -> np.ndarray:
        """ΔH_mix (kJ/mol), Takeuchi-Inoue pair enthalpies."""
        a, b, cc = self.pairs
        return 4.0 * np.einsum("nk,nk->n", cc, mixing_enthalpy()[self.z[:, a], self.z[:, b]])

    @cached_property
    def entropy(self) -> np.ndarray:
        """ΔS_mix (J/(mol K)), ideal configurational."""
        return GAS_CONSTANT * ideal_mixing_entropy(self.c)

    @cached_property
    def radius_delta(self) -> np.ndarray:
        """Yang-Zhang δ of the Miracle radii."""
        return self.delta("radius")

    @cached_property
    def interant(self) -> np.ndarray:
        """(n, 4) interant s, p, d, f electrons."""
        return np.einsum("nm,nmq->nq", self.present.astype(np.float64), self.per_element[:, :, _INDEX["s"]:])


def _omega(block: _Block) -> np.ndarray:
    return block.mean("t_melt") * block.entropy * 1e-3 / np.maximum(np.abs(block.enthalpy), MIN_ABS_ENTHALPY)


def _lambda_entropy(block: _Block) -> np.ndarray:
    delta_percent_sq = (100.0 * block.radius_delta) ** 2
    return np.divide(block.entropy, delta_percent_sq, out=np.zeros(len(block.c)), where=delta_percent_sq != 0)


def _electronegativity_difference(block: _Block) -> np.ndarray:
    return np.sqrt(np.einsum("nm,nm->n", block.c, (block.values("chi") - block.mean("chi")[:, None]) ** 2))


def _radii_gamma(block: _Block) -> np.ndarray:
    radii, r_mean = block.values("radius"), block.mean("radius")
    r_min, r_max = radii.min(axis=1), radii.max(axis=1)
    return (1 - np.sqrt((r_mean * r_min + r_min**2) / (r_mean + r_min) ** 2)) / (
        1 - np.sqrt((r_mean * r_max + r_max**2) / (r_mean + r_max) ** 2)
    )


def _ape_mean(block: _Block) -> np.ndarray:
    ratio = block.values("radius") / block.mean("radius")[:, None]
    return np.einsum("nm,nm->n", block.c, _packing_efficiency(ratio))


def _strength_model(block: _Block) -> np.ndarray:
    shear, g_mean = block.values("shear"), block.mean("shear")
    modulus = 2 * block.c * (shear - g_mean[:, None]) / (shear + g_mean[:, None])
    return (modulus / (1 + 0.5 * np.abs(modulus))).sum(axis=1)


def _interant_shell(index: int) -> Callable[[_Block], np.ndarray]:
    return lambda block: block.interant[:, index]


#: column name -> how to compute it from a block, in column order
_COLUMNS: dict[str, Callable[[_Block], np.ndarray]] = {
    "n_components": lambda block: block.present.sum(axis=1),
    "vec": lambda block: block.mean("vec"),
    "delta_h_mix": lambda block: block.enthalpy,
    "delta_s_mix": lambda block: block.entropy,
    "delta": lambda block: block.radius_delta,
    "omega": _omega,
    "t_melt_mean": lambda block: block.mean("t_melt"),
    "electronegativity_difference": _electronegativity_difference,
    "electronegativity_delta": lambda block: block.delta("phi"),
    "electronegativity_local_mismatch": lambda block: block.local_mismatch("phi"),
    "radii_local_mismatch": lambda block: block.local_mismatch("radius"),
    "radii_gamma": _radii_gamma,
    "lambda_entropy": _lambda_entropy,
    "ape_mean": _ape_mean,
    "atomic_weight_mean": lambda block: block.mean("weight"),
    "cohesive_energy_mean": lambda block: block.mean("e_coh"),
    "interant_electrons": lambda block: block.interant.sum(axis=1),
    **{f"interant_{shell}_electrons": _interant_shell(i) for i, shell in enumerate("spdf")},
    "shear_modulus_mean": lambda block: block.mean("shear"),
    "shear_modulus_delta": lambda block: block.delta("shear"),
    "shear_modulus_local_mismatch": lambda block: block.local_mismatch("shear"),
    "shear_modulus_strength_model": _strength_model,
}
COLUMNS: tuple[str, ...] = tuple(_COLUMNS)


def hea_parameters(comps: Compositions, columns: tuple[str, ...] | list[str] = COLUMNS) -> np.ndarray:
    """Return the (n, len(columns)) HEA parameters of ``comps``, computing only what ``columns`` need."""
    block = _Block(comps)
    out = np.empty((len(comps), len(columns)))
    for j, name in enumerate(columns):
        out[:, j] = _COLUMNS[name](block)
    return out


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
