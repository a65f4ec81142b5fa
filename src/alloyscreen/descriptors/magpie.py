"""Magpie element-property statistics, vectorised: equal to matminer ``ElementProperty.from_preset("magpie")``.

Column names are matminer's labels (``"MagpieData mean MeltingT"``) so that users
of matminer recognise them. Statistics follow ``matminer.featurizers.utils.stats.PropertyStats``:
minimum, maximum, range, fraction-weighted mean, weighted mean absolute deviation,
and mode (value of the element with the largest fraction; among fractions equal
within ``numpy.isclose`` tolerance, the smallest value).
"""

from __future__ import annotations

from functools import cache, cached_property

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
def property_table(properties: tuple[str, ...]) -> np.ndarray:
    """Return the (119, len(properties)) table of imputed magpie values."""
    return np.ascontiguousarray(np.stack([magpie(p) for p in properties], axis=1))


def magpie_statistics(
    comps: Compositions, properties: tuple[str, ...] = PROPERTIES, statistics: tuple[str, ...] = STATISTICS
) -> np.ndarray:
    """Return (n, len(statistics) * len(properties)) statistics, columns ordered property-major like ``COLUMNS``.

    Parameters
    ----------
    comps : Compositions
        Compositions to describe.
    properties : tuple of str
        Magpie properties, a subset of ``PROPERTIES`` in any order.
    statistics : tuple of str
        Statistics, a subset of ``STATISTICS`` in any order; only these are computed.

    Returns
    -------
    np.ndarray
        float64 array; for property ``p`` (position ``i``) and statistic ``s`` (position ``j``
        in ``statistics``) the column is ``len(statistics) * i + j``.
    """
    n = len(comps)
    block = _Block(comps.c, np.take(property_table(tuple(properties)), comps.z.T, axis=0))
    out = np.empty((n, len(properties), len(statistics)))
    for j, name in enumerate(statistics):
        out[:, :, j] = getattr(block, name)
    return out.reshape(n, -1)


class _Block:
    """The statistics of some compositions, each computed when first asked for (attributes named as ``STATISTICS``)."""

    def __init__(self, c: np.ndarray, values: np.ndarray):
        self.c = c
        self.values = values  # (m, n, p), slot-major for fast reductions

    @cached_property
    def minimum(self) -> np.ndarray:
        return np.minimum.reduce(self.values, axis=0)

    @cached_property
    def maximum(self) -> np.ndarray:
        return np.maximum.reduce(self.values, axis=0)

    @cached_property
    def range(self) -> np.ndarray:
        return self.maximum - self.minimum

    @cached_property
    def mean(self) -> np.ndarray:
        return np.einsum("mn,mnp->np", self.c.T, self.values)

    @cached_property
    def avg_dev(self) -> np.ndarray:
        deviation = self.values - self.mean
        np.abs(deviation, out=deviation)
        deviation *= self.c.T[:, :, None]
        return deviation.sum(axis=0)

    @cached_property
    def mode(self) -> np.ndarray:
        return _mode(self.c, self.values)


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
