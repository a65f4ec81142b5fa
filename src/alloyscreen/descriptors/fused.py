"""The whole descriptor set in one pass over each composition's fractions: a compiled kernel.

:func:`fill` writes the columns of ``COLUMNS`` (HEA parameters, then the magpie
statistics) row by row: each composition's element rows are read once from one
table of every element property, the minimum, maximum, weighted mean and mode
of every property are accumulated together, then one more pass over the same
few slots gives the deviations (magpie ``avg_dev``, the δ-type parameters) and
the pair sums. No (n, m, property) temporaries exist, so the cost is the output
it writes. The definitions are those of :mod:`~alloyscreen.descriptors.hea` and
:mod:`~alloyscreen.descriptors.magpie` (the numpy reference, kept for
``featurize(..., engine="numpy")``); a test holds the two equal to 1e-12
relative and both equal to matminer.

Why numba (the one dependency this adds): ``python benchmarks/descriptors.py``
measured the full set (157 columns, one thread, 1e6 random compositions of 2-6
elements) at 3.7e5 compositions per CPU second with the numpy reference, whose
dozens of whole-array passes over (n, slots, properties) temporaries keep it far
from the 2e6/s goal, and at 2.35e6/s with this kernel in the same run (6.3x); about
a third of the kernel's time is the first touch of the freshly allocated output.
The kernel compiles on first use (about 2 s) and is cached on disk
(``cache=True``); ``featurize`` imports this module, and so numba, only then.
:func:`pack` is the same kind of pass for ``Compositions.from_dense`` (the
present elements of each dense row, in column order: no sort).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from numba import njit

from alloyscreen.descriptors import hea, magpie
from alloyscreen.descriptors.elementdata import mixing_enthalpy

N_HEA = len(hea.COLUMNS)
N_MAGPIE = len(magpie.PROPERTIES)
N_STATS = len(magpie.STATISTICS)
_GAS_CONSTANT, _MIN_ABS_ENTHALPY = hea.GAS_CONSTANT, hea.MIN_ABS_ENTHALPY
#: positions of the HEA element data (``hea.ELEMENT_COLUMNS``) in the combined table, after the magpie properties
_AT = {name: N_MAGPIE + i for i, name in enumerate(hea.ELEMENT_COLUMNS)}
_VEC, _RADIUS, _TMELT, _CHI, _PHI = _AT["vec"], _AT["radius"], _AT["t_melt"], _AT["chi"], _AT["phi"]
_WEIGHT, _ECOH, _SHEAR, _S = _AT["weight"], _AT["e_coh"], _AT["shear"], _AT["s"]  # then p, d, f


@cache
def element_table() -> np.ndarray:
    """(119, 22 + 12): the magpie properties (``magpie.PROPERTIES``) then the HEA element data, by Z."""
    return np.ascontiguousarray(np.concatenate([magpie.property_table(magpie.PROPERTIES), hea.element_data()], 1))


def fill(z: np.ndarray, c: np.ndarray, out: np.ndarray, want_hea: bool = True, want_magpie: bool = True) -> None:
    """Write the descriptors of compositions ``(z, c)`` into ``out`` (n, ``len(COLUMNS)``), in ``COLUMNS`` order.

    ``want_hea`` / ``want_magpie`` false: that part's columns are left as they are (not computed).
    """
    if out.shape != (len(z), N_HEA + N_MAGPIE * N_STATS):
        raise ValueError(f"out of shape {out.shape}; allowed: ({len(z)}, {N_HEA + N_MAGPIE * N_STATS})")
    _kernel(np.ascontiguousarray(z, dtype=np.int64), np.ascontiguousarray(c, dtype=np.float64), element_table(),
            mixing_enthalpy(), hea.IDEAL_RATIOS, want_hea, want_magpie, out)


def pack(fractions: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and amounts of the positive entries of each row of ``fractions``, in column order.

    Returns ``(columns, amounts)`` of shape (n, ``width``): padding slots repeat the row's first
    column with amount 0 (``Compositions.from_dense`` normalises the amounts and maps the columns).
    """
    fractions = np.ascontiguousarray(fractions, dtype=np.float64)
    columns = np.empty((len(fractions), width), dtype=np.int64)
    amounts = np.empty((len(fractions), width))
    _pack(fractions, columns, amounts)
    return columns, amounts


@njit(cache=True, nogil=True)
def _pack(fractions, columns, amounts):  # pragma: no cover - compiled
    n, p = fractions.shape
    width = columns.shape[1]
    for i in range(n):
        k = 0
        for j in range(p):
            if fractions[i, j] > 0 and k < width:
                columns[i, k] = j
                amounts[i, k] = fractions[i, j]
                k += 1
        first = columns[i, 0] if k > 0 else 0
        for slot in range(k, width):
            columns[i, slot] = first
            amounts[i, slot] = 0.0


@njit(cache=True, nogil=True, fastmath=False, error_model="numpy")
def _packing(ratio, ideal):  # pragma: no cover - compiled
    """1 − R*/ratio, R* the ideal ratio nearest to ``ratio`` (the smaller on a tie): ``hea._packing_efficiency``."""
    last = ideal.shape[0] - 1
    below = 0  # the first index with ideal >= ratio (searchsorted, side="left"), counted without branches
    for k in range(ideal.shape[0]):
        below += ideal[k] < ratio
    upper = min(below, last)
    lower = max(upper - 1, 0)
    ape_lower = 1.0 - ideal[lower] / ratio
    ape_upper = 1.0 - ideal[upper] / ratio
    return ape_lower if abs(ape_lower) <= abs(ape_upper) else ape_upper


@njit(cache=True, nogil=True, fastmath=False, error_model="numpy")
def _kernel(z, c, table, enthalpy, ideal, want_hea, want_magpie, out):  # pragma: no cover - compiled
    n, m = c.shape
    q_all = table.shape[1]
    lo = np.empty(q_all)
    hi = np.empty(q_all)
    mean = np.empty(q_all)
    mode = np.empty(q_all)
    dev = np.empty(q_all)
    interant = np.empty(4)
    for i in range(n):
        largest = 0.0
        count = 0
        entropy = 0.0
        for a in range(m):
            ca = c[i, a]
            if ca > largest:
                largest = ca
            if ca > 0:
                count += 1
                entropy -= ca * math.log(ca)
        tolerance = 1e-8 + 1e-5 * largest  # numpy.isclose, as magpie._mode
        for q in range(q_all):
            lo[q] = np.inf
            hi[q] = -np.inf
            mean[q] = 0.0
            mode[q] = np.inf
        for a in range(m):  # padding slots (fraction 0) are skipped throughout: they add nothing
            ca = c[i, a]
            if ca == 0:
                continue
            row = table[z[i, a]]
            if abs(ca - largest) <= tolerance:
                for q in range(q_all):
                    mode[q] = min(mode[q], row[q])
            for q in range(q_all):
                v = row[q]
                lo[q] = min(lo[q], v)
                hi[q] = max(hi[q], v)
                mean[q] += ca * v
        if want_magpie:
            for q in range(N_MAGPIE):
                dev[q] = 0.0
            for a in range(m):
                ca = c[i, a]
                if ca == 0:
                    continue
                row = table[z[i, a]]
                for q in range(N_MAGPIE):
                    dev[q] += ca * abs(row[q] - mean[q])
            for q in range(N_MAGPIE):
                at = N_HEA + N_STATS * q  # minimum, maximum, range, mean, avg_dev, mode
                out[i, at] = lo[q]
                out[i, at + 1] = hi[q]
                out[i, at + 2] = hi[q] - lo[q]
                out[i, at + 3] = mean[q]
                out[i, at + 4] = dev[q]
                out[i, at + 5] = mode[q]
        if not want_hea:
            continue
        r_mean, g_mean, chi_mean, phi_mean = mean[_RADIUS], mean[_SHEAR], mean[_CHI], mean[_PHI]
        delta_r = 0.0
        delta_phi = 0.0
        delta_g = 0.0
        chi_var = 0.0
        ape = 0.0
        strength = 0.0
        interant[:] = 0.0
        h_mix = 0.0
        mismatch_phi = 0.0
        mismatch_r = 0.0
        mismatch_g = 0.0
        for a in range(m):
            ca = c[i, a]
            if ca == 0:
                continue
            row = table[z[i, a]]
            delta_r += ca * (1.0 - row[_RADIUS] / r_mean) ** 2  # as hea._delta, to the rounding: Λ divides by δ²
            delta_phi += ca * (1.0 - row[_PHI] / phi_mean) ** 2
            delta_g += ca * (1.0 - row[_SHEAR] / g_mean) ** 2
            chi_var += ca * (row[_CHI] - chi_mean) ** 2
            ape += ca * _packing(row[_RADIUS] / r_mean, ideal)
            modulus = 2 * ca * (row[_SHEAR] - g_mean) / (row[_SHEAR] + g_mean)
            strength += modulus / (1 + 0.5 * abs(modulus))
            for shell in range(4):
                interant[shell] += row[_S + shell]
            for b in range(a + 1, m):
                cb = c[i, b]
                if cb == 0:
                    continue
                other = table[z[i, b]]
                cc = ca * cb
                h_mix += cc * enthalpy[z[i, a], z[i, b]]
                mismatch_phi += cc * abs(row[_PHI] - other[_PHI])
                mismatch_r += cc * abs(row[_RADIUS] - other[_RADIUS])
                mismatch_g += cc * abs(row[_SHEAR] - other[_SHEAR])
        h_mix *= 4.0
        s_mix = _GAS_CONSTANT * entropy
        delta = math.sqrt(delta_r)
        r_min, r_max = lo[_RADIUS], hi[_RADIUS]
        gamma = (1 - math.sqrt((r_mean * r_min + r_min**2) / (r_mean + r_min) ** 2)) / (
            1 - math.sqrt((r_mean * r_max + r_max**2) / (r_mean + r_max) ** 2))
        delta_percent_sq = (100.0 * delta) ** 2
        out[i, 0] = count  # the order of hea.COLUMNS
        out[i, 1] = mean[_VEC]
        out[i, 2] = h_mix
        out[i, 3] = s_mix
        out[i, 4] = delta
        out[i, 5] = mean[_TMELT] * s_mix * 1e-3 / max(abs(h_mix), _MIN_ABS_ENTHALPY)
        out[i, 6] = mean[_TMELT]
        out[i, 7] = math.sqrt(chi_var)
        out[i, 8] = math.sqrt(delta_phi)
        out[i, 9] = mismatch_phi
        out[i, 10] = mismatch_r
        out[i, 11] = gamma
        out[i, 12] = s_mix / delta_percent_sq if delta_percent_sq != 0 else 0.0
        out[i, 13] = ape
        out[i, 14] = mean[_WEIGHT]
        out[i, 15] = mean[_ECOH]
        out[i, 16] = interant[0] + interant[1] + interant[2] + interant[3]
        out[i, 17] = interant[0]
        out[i, 18] = interant[1]
        out[i, 19] = interant[2]
        out[i, 20] = interant[3]
        out[i, 21] = g_mean
        out[i, 22] = math.sqrt(delta_g)
        out[i, 23] = mismatch_g
        out[i, 24] = strength
