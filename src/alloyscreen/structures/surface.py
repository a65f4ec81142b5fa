"""Simulated surfaces: an fcc(111) surface of n x n atoms as an occupation grid, and every site's environment at once.

HEA catalysis treats a surface as a distribution of sites (Batchelor et al.,
Joule 3, 834 (2019)): a site model learns adsorption energies from each site's
local environment, then predicts every site of a large random surface. Here
the environment of a site is the element counts of the zones
:func:`~alloyscreen.structures.adsorption.find_sites` gives on a slab: the
atoms forming the site (``site``), their top-layer nearest neighbours
(``surface``) and their second-layer nearest neighbours (``subsurface``).

The zones are not re-derived for the grid: they are read once from a small
pure reference slab (:func:`site_templates`) as offsets on the grid, one
template per site kind and orientation, so a simulated surface's sites have
exactly the features a slab's sites have (tested against ``find_sites`` on
random slabs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from pymatgen.core import Structure

from alloyscreen.schemas.structure import AdsorptionSite
from alloyscreen.structures.adsorption import layer_index, site_zones
from alloyscreen.structures.composition import (
    StructureInputError,
    check_composition,
    integer_counts,
    species_sequence,
)
from alloyscreen.structures.slabs import make_slab

ZONES = ("site", "surface", "subsurface")
ZONE_FIELDS = ("site_counts", "surface_neighbor_counts", "subsurface_neighbor_counts")  # AdsorptionSite's, by zone
REFERENCE_SIZE = 6  # the reference slab's n x n: large enough that no zone meets its own periodic image
GRID_LAYERS = 2  # the zones reach the top two layers
DEFAULT_SIZE = 100  # 10^4 surface atoms: the literature's simulated surface


@dataclass(frozen=True)
class SiteTemplate:
    """One site kind in one orientation: its zones as (layer, di, dj) offsets from the anchor atom on the grid."""

    kind: str
    zones: tuple[tuple[tuple[int, int, int], ...], ...]  # one per ZONES entry


def site_feature_names(elements: Sequence[str]) -> list[str]:
    """Column names of the site features: ``<zone>_<element>``, zones in :data:`ZONES` order (counts of atoms)."""
    return [f"{zone}_{element}" for zone in ZONES for element in elements]


def site_zones_counts(site: AdsorptionSite) -> dict[str, dict[str, int]]:
    """A site's zone counts by field (:data:`ZONE_FIELDS`): what a label's site row stores as its ``site``."""
    return site.model_dump(include=set(ZONE_FIELDS))


def site_features(sites: Sequence[AdsorptionSite], elements: Sequence[str]) -> np.ndarray:
    """The features of slab sites (:func:`find_sites`), one row each (:func:`site_feature_names` order)."""
    return zone_features([site_zones_counts(site) for site in sites], elements)


def zone_features(zones: Sequence[Mapping[str, Mapping[str, int]]], elements: Sequence[str]) -> np.ndarray:
    """The features of sites given by their zone counts (:func:`site_zones_counts`, a site row's ``site``).

    Raises when a site holds an element outside ``elements``.
    """
    index = {element: i for i, element in enumerate(elements)}
    rows = np.zeros((len(zones), len(ZONES) * len(elements)))
    for row, site in zip(rows, zones, strict=True):
        for zone, field in enumerate(ZONE_FIELDS):
            for element, count in site[field].items():
                if element not in index:
                    raise StructureInputError(f"site element {element!r} is not among the features' elements "
                                              f"{list(elements)}; allowed: those elements")
                row[zone * len(elements) + index[element]] = count
    return rows


def _grid_cells(structure, positions: np.ndarray, layer: int, repeats: np.ndarray) -> np.ndarray:
    """Grid cells (i, j), unwrapped, of Cartesian ``positions`` in ``layer`` of an fcc(111) slab (``make_slab``)."""
    layers = layer_index(structure)
    first = structure.frac_coords[layers == layer][0, :2] * repeats
    shift = first - np.floor(first + 1e-6)  # the layer's stacking offset
    scaled = structure.lattice.get_fractional_coords(positions)[:, :2] * repeats - shift
    return np.rint(scaled).astype(int)


def _repeats(structure) -> np.ndarray:
    """The slab's surface repeats (n1, n2): distinct top-layer positions along each in-plane cell vector."""
    top = structure.frac_coords[layer_index(structure) == 0, :2]
    return np.array([len(np.unique(np.round(top[:, axis], 4) % 1.0)) for axis in (0, 1)])


def slab_site_rows(structure, sites: Sequence[AdsorptionSite], kind: str) -> np.ndarray:
    """Where ``sites`` (of ``kind``, from ``find_sites`` on a square fcc(111) slab) sit on the slab's grid.

    Their rows in :meth:`SimulatedSurface.features` order of
    :func:`surface_of_slab` (the same as :func:`site_members`'s), so values
    computed on a slab feed the functions written for simulated surfaces.
    """
    n = int(_repeats(structure)[0])
    top = np.flatnonzero(layer_index(structure) == 0)
    cells = _grid_cells(structure, structure.cart_coords[top], 0, np.array([n, n])) % n
    grid = dict(zip(top.tolist(), (cells[:, 0] * n + cells[:, 1]).tolist(), strict=True))
    rows = {frozenset(members): row for row, members in enumerate(site_members(kind, n).tolist())}
    return np.array([rows[frozenset(grid[i] for i in site.atom_indices)] for site in sites], dtype=int)


def pure_slab_like(structure, metal: str) -> Structure:
    """A pure ``metal`` fcc(111) slab of the same shape as ``structure`` (size, layers, fixed layers, vacuum)."""
    layers = layer_index(structure)
    movable = structure.site_properties.get("selective_dynamics") or [[True] * 3] * len(structure)
    fixed = len({int(layer) for layer, flags in zip(layers, movable, strict=True) if flags is not None
                 and not any(flags)})
    z = structure.cart_coords[:, 2]
    vacuum = float(structure.lattice.c - (z.max() - z.min()))
    repeats = _repeats(structure)
    return make_slab({metal: 1.0}, "fcc", size=(int(repeats[0]), int(repeats[1])), layers=int(layers.max()) + 1,
                     fixed_layers=fixed, vacuum=round(vacuum, 6)).structure


def surface_of_slab(structure, elements: Sequence[str]) -> SimulatedSurface:
    """The decoration of a square fcc(111) slab (``make_slab``) as a :class:`SimulatedSurface` of its top two layers."""
    repeats = _repeats(structure)
    if repeats[0] != repeats[1]:
        raise StructureInputError(f"slab size {repeats.tolist()}; allowed: a square n x n fcc(111) slab")
    layers = layer_index(structure)
    index = {element: k for k, element in enumerate(elements)}
    occupation = np.zeros((GRID_LAYERS, repeats[0], repeats[0]), dtype=np.int64)
    for layer in range(GRID_LAYERS):
        rows = np.flatnonzero(layers == layer)
        cells = _grid_cells(structure, structure.cart_coords[rows], layer, repeats) % repeats[0]
        occupation[layer, cells[:, 0], cells[:, 1]] = [index[structure[k].specie.symbol] for k in rows]
    return SimulatedSurface(tuple(elements), occupation)


@cache
def site_templates() -> tuple[SiteTemplate, ...]:
    """The fcc(111) site templates, read from the zones ``find_sites`` gives on a pure reference slab."""
    slab = make_slab({"Cu": 1.0}, "fcc", size=(REFERENCE_SIZE, REFERENCE_SIZE), layers=4).structure
    repeats = np.array([REFERENCE_SIZE, REFERENCE_SIZE])

    def cells(positions: np.ndarray, layer: int) -> list[tuple[int, int]]:
        return [(int(i), int(j)) for i, j in _grid_cells(slab, positions, layer, repeats)]

    templates: dict[tuple, SiteTemplate] = {}
    counts: dict[str, int] = {}
    for zone in site_zones(slab):
        counts[zone.kind] = counts.get(zone.kind, 0) + 1
        members = cells(zone.member_positions, 0)
        anchor = min(members)
        offsets = [sorted((layer, i - anchor[0], j - anchor[1]) for i, j in cells(positions, layer))
                   for positions, layer in ((zone.member_positions, 0), (zone.surface_positions, 0),
                                            (zone.subsurface_positions, 1))]
        key = (zone.kind, tuple(offsets[0]))
        templates.setdefault(key, SiteTemplate(zone.kind, tuple(tuple(o) for o in offsets)))
    for kind, count in counts.items():  # every site of a kind is one template at one anchor atom
        orientations = sum(template.kind == kind for template in templates.values())
        assert count == orientations * REFERENCE_SIZE**2, (kind, count, orientations)
    return tuple(templates.values())


@dataclass(frozen=True)
class SimulatedSurface:
    """An fcc(111) surface as element indices on a periodic n x n grid, top layer and the one below.

    ``occupation[layer, i, j]`` indexes ``elements``; layer 0 is the top.
    """

    elements: tuple[str, ...]
    occupation: np.ndarray

    @property
    def size(self) -> int:
        """Surface atoms along each in-plane cell vector."""
        return int(self.occupation.shape[1])

    def features(self, kind: str) -> np.ndarray:
        """The features of every site of ``kind`` on the surface, one row per site (:func:`site_feature_names`).

        Rows come per template (orientation), then per anchor atom in grid order.
        """
        chosen = [template for template in site_templates() if template.kind == kind]
        if not chosen:
            kinds = sorted({template.kind for template in site_templates()})
            raise StructureInputError(f"site kind {kind!r}; allowed on fcc(111): {', '.join(kinds)}")
        n, n_elements = self.size, len(self.elements)
        i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        blocks = []
        for template in chosen:
            block = np.zeros((n * n, len(ZONES) * n_elements))
            for zone, offsets in enumerate(template.zones):
                for layer, di, dj in offsets:
                    element = self.occupation[layer, (i + di) % n, (j + dj) % n].ravel()
                    block[np.arange(n * n), zone * n_elements + element] += 1
            blocks.append(block)
        return np.concatenate(blocks)


def site_members(kind: str, size: int) -> np.ndarray:
    """The surface atoms forming each ``kind`` site of an n x n surface, shape (sites, atoms per site).

    Sites in the row order of :meth:`SimulatedSurface.features`; atoms by their
    grid index ``i * size + j``, which is also the row of their on-top site.
    """
    chosen = [template for template in site_templates() if template.kind == kind]
    i, j = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    return np.concatenate([np.stack([((i + di) % size * size + (j + dj) % size).ravel()
                                     for _, di, dj in template.zones[0]], axis=1) for template in chosen])


def simulated_surface(composition: Mapping[str, float], size: int = DEFAULT_SIZE, seed: int = 0,
                      elements: Sequence[str] | None = None) -> SimulatedSurface:
    """A random fcc(111) surface of ``size`` x ``size`` atoms per layer at ``composition`` (seeded).

    Each layer holds the composition's exact integer counts (largest
    remainder), shuffled; ``elements``: the feature columns' elements
    (default: the composition's, sorted), a superset of the composition's.
    """
    composition = check_composition(composition)
    if int(size) < 2:
        raise StructureInputError(f"surface size {size!r}; allowed: an integer >= 2")
    names = tuple(elements) if elements is not None else tuple(composition)
    missing = sorted(set(composition) - set(names))
    if missing:
        raise StructureInputError(f"elements {missing} of the composition are not among {list(names)}; "
                                  f"allowed: a superset of the composition's elements")
    counts, _ = integer_counts(composition, size * size)
    rng = np.random.default_rng(seed)
    index = {element: k for k, element in enumerate(names)}
    layers = [[index[symbol] for symbol in species_sequence(counts, rng)] for _ in range(GRID_LAYERS)]
    return SimulatedSurface(names, np.array(layers, dtype=np.int64).reshape(GRID_LAYERS, size, size))
