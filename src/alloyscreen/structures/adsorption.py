"""Adsorption sites on alloy slabs, their local composition, and adsorbate placement.

Sites (on the top layer, periodic in the surface plane):

- ``top``: above one surface atom;
- ``bridge``: midpoint of two nearest-neighbour surface atoms;
- 3-fold hollows at the centroid of three mutually neighbouring surface atoms:
  on an equilateral triangle, ``hcp`` when a second-layer atom lies below it,
  else ``fcc`` (fcc(111), hcp(0001)); on the isosceles triangles of bcc(110)
  (two nearest-neighbour edges and one of length ``a``), ``hollow``.

Local composition (the zones of HEA catalysis models, e.g. Batchelor et al.,
Joule 3, 834 (2019)): element counts among the 1/2/3 atoms forming the site,
and among the nearest neighbours of those atoms (site atoms excluded), split
into the top layer and the second layer.

Adsorbates (the registry :data:`alloyscreen.catalysis.adsorbates.ADSORBATES`:
H, OH, O, CO) bind through their first atom at a height above the mean plane
of the site atoms such that the bond to the site atoms is the sum of covalent
radii (ASE ``covalent_radii``, Cordero et al. 2008), but not below
``MIN_HEIGHT``; their other atoms stand straight up at the entry's bonds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import numpy as np
from ase.data import atomic_numbers, covalent_radii
from pymatgen.core import Structure

from alloyscreen.catalysis.adsorbates import ADSORBATES, Adsorbate
from alloyscreen.schemas.structure import AdsorptionSite, SlabGenerator
from alloyscreen.structures.composition import StructureInputError
from alloyscreen.structures.result import GeneratedStructure

LAYER_GAP = 0.5
NEIGHBOR_FACTOR = 1.05
HOLLOW_FACTOR = 1.2
BELOW_TOLERANCE = 0.3
MIN_HEIGHT = 0.5
SITE_ORDER = ("top", "bridge", "fcc", "hcp", "hollow")
FACET_SITE_KINDS = {"fcc": ("top", "bridge", "fcc", "hcp"), "hcp": ("top", "bridge", "fcc", "hcp"),
                    "bcc": ("top", "bridge", "hollow")}  # prototype -> the site kinds of its close-packed facet


def layer_index(structure: Structure) -> np.ndarray:
    """Return each atom's layer counted from the top (0 = top), splitting at gaps > 0.5 Å."""
    z = structure.cart_coords[:, 2]
    order = np.argsort(-z)
    layers = np.empty(len(z), dtype=int)
    layers[order] = np.concatenate([[0], np.cumsum(np.diff(-z[order]) > LAYER_GAP)])
    return layers


def _images(points: np.ndarray, lattice: np.ndarray, reach: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Return in-plane periodic images of ``points`` (shifts -reach..reach) and each image's origin index."""
    steps = range(-reach, reach + 1)
    shifts = np.array([i * lattice[0] + j * lattice[1] for i in steps for j in steps])
    images = (points[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    return images, np.tile(np.arange(len(points)), len(shifts))


def _counts(symbols: np.ndarray) -> dict[str, int]:
    return dict(sorted(Counter(symbols.tolist()).items()))


def _hollow_kind(edges: list[float], centroid: np.ndarray, below: np.ndarray, nn: float) -> str:
    if max(edges) > NEIGHBOR_FACTOR * nn:
        return "hollow"
    if len(below) and np.linalg.norm(below[:, :2] - centroid[:2], axis=1).min() < BELOW_TOLERANCE * nn:
        return "hcp"
    return "fcc"


def _candidate_sites(cart: np.ndarray, layers: np.ndarray, lattice: np.ndarray):
    """Yield ``(kind, member image positions)`` for every site around each top-layer atom."""
    surface = cart[layers == 0]
    images, _ = _images(surface, lattice)
    lateral = np.linalg.norm(surface[:, None, :2] - images[None, :, :2], axis=-1)
    nn = lateral[lateral > 1e-6].min()
    below, _ = _images(cart[layers == 1], lattice)
    for i, atom in enumerate(surface):
        yield "top", atom[None, :]
        close = np.flatnonzero((lateral[i] > 1e-6) & (lateral[i] < HOLLOW_FACTOR * nn))
        for m in close[lateral[i, close] < NEIGHBOR_FACTOR * nn]:
            yield "bridge", np.array([atom, images[m]])
        for k, m1 in enumerate(close):
            for m2 in close[k + 1:]:
                edge = np.linalg.norm(images[m1, :2] - images[m2, :2])
                if edge < HOLLOW_FACTOR * nn:
                    members = np.array([atom, images[m1], images[m2]])
                    edges = [lateral[i, m1], lateral[i, m2], edge]
                    kind = _hollow_kind(edges, members.mean(axis=0), below, nn)
                    yield kind, members


@dataclass(frozen=True)
class SiteZones:
    """One site and its zones: the atoms forming it, their top-layer and their second-layer nearest neighbours.

    Each zone is given as atom indices of the cell and as the Cartesian
    positions of the periodic images that are the neighbours (one entry per
    physical atom, so an index repeats in a cell as small as 2 x 2).
    """

    kind: str
    position: np.ndarray
    members: np.ndarray
    surface: np.ndarray
    subsurface: np.ndarray
    member_positions: np.ndarray
    surface_positions: np.ndarray
    subsurface_positions: np.ndarray


def site_zones(structure: Structure) -> list[SiteZones]:
    """Every top, bridge and 3-fold hollow site of the top surface with its zones (:class:`SiteZones`).

    Neighbours are counted over periodic images, so each physical neighbour
    counts once even in cells as small as 2 x 2. Sorted by kind, atoms, position.
    """
    lattice = structure.lattice.matrix
    layers = layer_index(structure)
    cart = structure.cart_coords
    everything, origin = _images(cart, lattice, reach=2)
    nn = float(np.min(structure.distance_matrix + np.eye(len(structure)) * 1e9))
    zones, seen = [], set()
    for kind, members in _candidate_sites(cart, layers, lattice):
        position = members.mean(axis=0)
        frac = np.linalg.solve(lattice.T, position)
        key = (kind, *np.round(np.round(frac[:2], 4) % 1.0, 4))
        if key in seen:
            continue
        seen.add(key)
        distance = np.linalg.norm(everything[:, None, :] - members[None, :, :], axis=-1)
        is_member = (distance < 1e-6).any(axis=1)
        shell = (distance < NEIGHBOR_FACTOR * nn).any(axis=1) & ~is_member
        top, second = shell & (layers[origin] == 0), shell & (layers[origin] == 1)
        zones.append(SiteZones(kind, position, origin[is_member], origin[top], origin[second],
                               everything[is_member], everything[top], everything[second]))
    return sorted(zones, key=lambda z: (SITE_ORDER.index(z.kind), sorted(z.members.tolist()), z.position.tolist()))


def find_sites(structure: Structure) -> list[AdsorptionSite]:
    """Return every top, bridge and 3-fold hollow site of the top surface, with local composition.

    Parameters
    ----------
    structure
        An unrelaxed slab with the surface normal along z and in-plane lattice
        vectors a and b (as made by :func:`alloyscreen.structures.slabs.make_slab`).
    """
    symbols = np.array([site.specie.symbol for site in structure])
    return [AdsorptionSite(
        kind=zone.kind,
        position=[float(x) for x in zone.position],
        atom_indices=sorted(int(i) for i in zone.members),
        site_counts=_counts(symbols[zone.members]),
        surface_neighbor_counts=_counts(symbols[zone.surface]),
        subsurface_neighbor_counts=_counts(symbols[zone.subsurface]),
    ) for zone in site_zones(structure)]


def adsorbate_height(structure: Structure, site: AdsorptionSite, adsorbate: str) -> float:
    """Return the height (Å) of the binding atom above the mean plane of the site atoms."""
    binding = covalent_radii[atomic_numbers[_adsorbate(adsorbate).species[0]]]
    bond = binding + np.mean([covalent_radii[structure[i].specie.Z] for i in site.atom_indices])
    lateral = [
        np.linalg.norm(structure.lattice.get_cartesian_coords(
            _wrap(structure.lattice.get_fractional_coords(site.position) - structure[i].frac_coords))[:2])
        for i in site.atom_indices
    ]
    return float(np.sqrt(max(bond**2 - np.mean(lateral) ** 2, MIN_HEIGHT**2)))


def _wrap(frac: np.ndarray) -> np.ndarray:
    frac = np.array(frac, dtype=float)
    frac[:2] -= np.round(frac[:2])
    return frac


def settled_site(sites: list[AdsorptionSite], structure: Structure, atom: int) -> AdsorptionSite:
    """The site of ``sites`` (the clean slab's) nearest in the surface plane to atom ``atom`` of ``structure``.

    Where a relaxed adsorbate ended (periodic in the plane): a site calculation
    whose adsorbate settled on another site than the one it started on is
    that other site's, not its own.
    """
    lattice = structure.lattice
    here = structure[atom].frac_coords
    lateral = [np.linalg.norm(lattice.get_cartesian_coords(_wrap(lattice.get_fractional_coords(site.position)
                                                                 - here))[:2]) for site in sites]
    return sites[int(np.argmin(lateral))]


def binding_position(structure: Structure, site: AdsorptionSite, adsorbate: str) -> np.ndarray:
    """Return the Cartesian position (Å) of the binding atom of ``adsorbate`` above ``site``."""
    plane = float(np.mean(structure.cart_coords[site.atom_indices, 2]))
    return np.array([site.position[0], site.position[1], plane + adsorbate_height(structure, site, adsorbate)])


def choose_sites(sites: list[AdsorptionSite], kinds: list[str], max_sites: int | None,
                 seed: int) -> list[AdsorptionSite]:
    """Up to ``max_sites`` sites (None: all): shuffled (seeded) within each kind, round-robin over ``kinds``.

    A small ``max_sites`` still covers the first kinds listed.
    """
    rng = np.random.default_rng(seed)
    pools = [[sites[i] for i in rng.permutation(len(sites)) if sites[i].kind == kind] for kind in kinds]
    interleaved = [pool[depth] for depth in range(max(map(len, pools))) for pool in pools if depth < len(pool)]
    if not interleaved:
        raise StructureInputError(f"site_kinds {kinds}; allowed on this slab: "
                                  f"{', '.join(sorted({site.kind for site in sites}))}")
    return interleaved[:max_sites]


def _adsorbate(name: str) -> Adsorbate:
    if name not in ADSORBATES:
        raise StructureInputError(f"unknown adsorbate {name!r}; allowed: {', '.join(ADSORBATES)}")
    return ADSORBATES[name]


def adsorbed(structure: Structure, site: AdsorptionSite, adsorbate: str, room: float | None = None) -> Structure:
    """A copy of the slab ``structure`` with ``adsorbate`` on ``site`` (binding atom first, the rest above it).

    ``room``: the height (Å) above the top layer the adsorbate may reach (the
    vacuum less 2 Å of clearance); None: unchecked.
    """
    entry = _adsorbate(adsorbate)
    covered = structure.copy()
    binding = binding_position(structure, site, adsorbate)
    heights = np.concatenate([[0.0], np.cumsum(entry.bonds)])
    if room is not None and binding[2] + heights[-1] > float(np.max(structure.cart_coords[:, 2])) + room:
        raise StructureInputError(f"vacuum leaves no room for {adsorbate} (it reaches "
                                  f"{binding[2] + heights[-1]:.2f} Å); allowed: a larger vacuum")
    free = {key: value for key, value in {"selective_dynamics": [True] * 3, "layer": 0}.items()
            if key in structure.site_properties}  # the adsorbate moves freely, in the top layer
    for species, height in zip(entry.species, heights, strict=True):
        covered.append(species, binding + [0.0, 0.0, height], coords_are_cartesian=True, properties=free or None)
    return covered


def place_adsorbate(slab: GeneratedStructure, site: AdsorptionSite, adsorbate: str) -> GeneratedStructure:
    """Return ``slab`` with ``adsorbate`` (a registry name) on ``site``; the adsorbate is free to move."""
    if slab.kind != "slab" or not isinstance(slab.generator, SlabGenerator):
        raise StructureInputError(f"structure kind {slab.kind!r}; allowed: an adsorbate-free 'slab'")
    structure = adsorbed(slab.structure, site, adsorbate, room=slab.generator.vacuum - 2.0)
    placed = site.model_copy(update={"adsorbate": adsorbate,
                                     "height": adsorbate_height(slab.structure, site, adsorbate)})
    return replace(slab, structure=structure, kind="slab-adsorbate", site=placed)
