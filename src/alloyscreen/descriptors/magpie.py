"""Magpie element-property statistics, vectorised: equal to matminer ``ElementProperty.from_preset("magpie")``.

Column names are matminer's labels (``"MagpieData mean MeltingT"``) so that users
of matminer recognise them. Statistics follow ``matminer.featurizers.utils.stats.PropertyStats``:
minimum, maximum, range, fraction-weighted mean, weighted mean absolute deviation,
and mode (value of the element with the largest fraction; among fractions equal
within ``numpy.isclose`` tolerance, the smallest value).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from alloyscreen.descriptors.compositions import Compositions
from alloyscreen.descriptors.elementdata import magpie

PROPERTIES = (
    "Number", "MendeleevNumber", "AtomicWeight", "MeltingT", "Column", "Row", "CovalentRadius",
    "Electronegativity", "NsValence", "NpValence", "NdValence", "NfValence", "NValence", "NsUnfilled",
    "NpUnfilled", "NdUnfilled", "NfUnfilled", "NUnfilled", "GSvolume_pa", "GSbandgap", "GSmagmom",
    "SpaceGroupNumber",
)
STATISTICS = ("minimum", "maximum", "range", "mean", "avg_dev", "mode")
COLUMNS = tuple(f"MagpieData {stat} {prop}" for prop in PROPERTIES for stat in STATISTICS)


@cache
def _table(properties: tuple[str, ...]) -> np.ndarray:
    """Return the (119, len(properties)) table of imputed magpie values."""
    return np.ascontiguousarray(np.stack([magpie(p) for p in properties], axis=1))


def magpie_statistics(comps: Compositions, properties: tuple[str, ...] = PROPERTIES) -> np.ndarray:
    """Return (n, 6 * len(properties)) statistics, columns ordered property-major like ``COLUMNS``.

    Parameters
    ----------
    comps : Compositions
        Compositions to describe.
    properties : tuple of str
        Magpie properties, a subset of ``PROPERTIES`` in any order.

    Returns
    -------
    np.ndarray
        float64 array; for property ``p`` (position ``i``) and statistic ``s`` (position ``j``
        in ``STATISTICS``) the column is ``6 * i + j``.
    """
    n, m = comps.c.shape
    values = np.take(_table(tuple(properties)), comps.z.T, axis=0)  # (m, n, p), slot-major for fast reductions
    weights = comps.c.T[:, :, None]  # (m, n, 1)
    out = np.empty((n, len(properties), len(STATISTICS)))
    minimum = np.minimum.reduce(values, axis=0)
    maximum = np.maximum.reduce(values, axis=0)
    out[:, :, 0] = minimum
    out[:, :, 1] = maximum
    np.subtract(maximum, minimum, out=out[:, :, 2])
    mean = np.einsum("mn,mnp->np", comps.c.T, values)
    out[:, :, 3] = mean
    deviation = values - mean
    np.abs(deviation, out=deviation)
    deviation *= weights
    out[:, :, 4] = deviation.sum(axis=0)
    out[:, :, 5] = _mode(comps.c, values)
    return out.reshape(n, -1)


def _mode(c: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Return the value of the most abundant element; on a tie (``numpy.isclose``) the smallest value."""
    largest = c.max(axis=1, keepdims=True)
    most_frequent = np.abs(c - largest) <= 1e-8 + 1e-5 * largest
    mode = values[c.argmax(axis=1), np.arange(c.shape[0])]
    tied = np.flatnonzero(most_frequent.sum(axis=1) > 1)
    if tied.size:
        candidates = np.where(most_frequent[tied].T[:, :, None], values[:, tied], np.inf)
        mode[tied] = np.minimum.reduce(candidates, axis=0)
    return mode
