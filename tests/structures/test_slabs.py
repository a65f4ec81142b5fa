"""Slabs, adsorption sites, local composition and adsorbate placement."""

from collections import Counter

import numpy as np
import pytest
from ase.data import atomic_numbers, covalent_radii
from pymatgen.io.ase import AseAtomsAdaptor

from alloyscreen.errors import AlloyscreenError
from alloyscreen.structures.adsorption import find_sites, layer_index, place_adsorbate, settled_site
from alloyscreen.structures.slabs import make_slab

HEA = {"Cu": 0.2, "Fe": 0.2, "Ni": 0.2, "Pd": 0.2, "Pt": 0.2}


@pytest.mark.parametrize("prototype", ["fcc", "bcc", "hcp"])
def test_slab_geometry_vacuum_layers_fixed(prototype):
    slab = make_slab(HEA, prototype, size=(3, 3), layers=5, fixed_layers=2, vacuum=12.0, seed=1)
    structure = slab.structure
    z = structure.cart_coords[:, 2]
    assert structure.lattice.c - (z.max() - z.min()) == pytest.approx(12.0)
    assert len(structure) == 45
    layers = layer_index(structure)
    assert np.bincount(layers).tolist() == [9] * 5
    assert sorted(set(structure.site_properties["layer"])) == [1, 2, 3, 4, 5]
    fixed = [not any(flags) for flags in structure.site_properties["selective_dynamics"]]
    assert sum(fixed) == 18
    assert set(layers[fixed]) == {3, 4}  # the two bottom layers
    constraint = AseAtomsAdaptor.get_atoms(structure).constraints[0]
    assert constraint.get_indices().tolist() == np.flatnonzero(fixed).tolist()
    assert sum(slab.counts.values()) == 45


def test_slab_determinism():
    assert make_slab(HEA, "fcc", seed=4).structure == make_slab(HEA, "fcc", seed=4).structure
    assert make_slab(HEA, "fcc", seed=4).structure != make_slab(HEA, "fcc", seed=5).structure


@pytest.mark.parametrize("size", [(2, 2), (3, 3)])
def test_sites_of_pristine_fcc111(size):
    slab = make_slab({"Pt": 1.0}, "fcc", size=size, layers=4)
    sites = find_sites(slab.structure)
    n = size[0] * size[1]
    assert Counter(s.kind for s in sites) == {"top": n, "bridge": 3 * n, "fcc": n, "hcp": n}
    shells = {(s.kind, sum(s.surface_neighbor_counts.values()), sum(s.subsurface_neighbor_counts.values()))
              for s in sites}
    assert shells == {("top", 6, 3), ("bridge", 8, 5), ("fcc", 9, 6), ("hcp", 9, 7)}
    nn = 3.92 / np.sqrt(2)
    hcp = next(s for s in sites if s.kind == "hcp")
    second = slab.structure.cart_coords[layer_index(slab.structure) == 1]
    shifts = [slab.structure.lattice.matrix[0, :2] * i + slab.structure.lattice.matrix[1, :2] * j
              for i in (-1, 0, 1) for j in (-1, 0, 1)]
    below = np.array(hcp.position[:2])
    lateral = min(np.linalg.norm(second[:, :2] + s - below, axis=1).min() for s in shifts)
    assert lateral < 0.01 * nn  # an hcp hollow sits above a second-layer atom


def test_sites_of_bcc110_and_hcp0001():
    bcc = Counter(s.kind for s in find_sites(make_slab({"Fe": 1.0}, "bcc", size=(3, 3)).structure))
    assert bcc == {"top": 9, "bridge": 18, "hollow": 18}
    hcp = Counter(s.kind for s in find_sites(make_slab({"Co": 1.0}, "hcp", size=(3, 3)).structure))
    assert hcp == {"top": 9, "bridge": 27, "fcc": 9, "hcp": 9}


def test_local_composition_matches_site_atoms():
    slab = make_slab(HEA, "fcc", size=(3, 3), seed=2)
    symbols = [site.specie.symbol for site in slab.structure]
    for site in find_sites(slab.structure):
        assert len(site.atom_indices) == {"top": 1, "bridge": 2, "fcc": 3, "hcp": 3}[site.kind]
        assert site.site_counts == dict(Counter(symbols[i] for i in site.atom_indices))
        assert set(site.atom_indices) <= set(np.flatnonzero(layer_index(slab.structure) == 0))


@pytest.mark.parametrize("adsorbate", ["H", "O", "OH", "CO"])
def test_adsorbate_height_and_record(adsorbate):
    slab = make_slab({"Pt": 1.0}, "fcc", size=(3, 3))
    sites = find_sites(slab.structure)
    top = next(s for s in sites if s.kind == "top")
    hollow = next(s for s in sites if s.kind == "fcc")
    on_top = place_adsorbate(slab, top, adsorbate)
    binding = on_top.structure[len(slab.structure)]
    radius = covalent_radii[atomic_numbers[binding.specie.symbol]] + covalent_radii[atomic_numbers["Pt"]]
    assert binding.distance(slab.structure[top.atom_indices[0]]) == pytest.approx(radius)
    assert len(on_top.structure) == len(slab.structure) + len(adsorbate)
    assert on_top.kind == "slab-adsorbate"
    assert on_top.site.adsorbate == adsorbate and on_top.site.site_counts == {"Pt": 1}
    in_hollow = place_adsorbate(slab, hollow, adsorbate)
    adsorbed = in_hollow.structure[len(slab.structure)]
    bonds = [adsorbed.distance(slab.structure[i]) for i in hollow.atom_indices]
    lateral = 3.92 / np.sqrt(2) / np.sqrt(3)  # centroid to corner of the Pt(111) triangle
    assert bonds == pytest.approx([max(radius, np.hypot(lateral, 0.5))] * 3)  # height floor 0.5 Å (H)
    assert 0.5 <= in_hollow.site.height < on_top.site.height
    assert in_hollow.structure.site_properties["selective_dynamics"][-1] == [True] * 3
    assert in_hollow.counts == slab.counts
    if len(adsorbate) == 2:  # the second atom straight above the binding one at the registry's bond
        bond = {"OH": 0.97, "CO": 1.15}[adsorbate]
        assert in_hollow.structure[-1].coords - in_hollow.structure[-2].coords == pytest.approx([0, 0, bond])


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: make_slab(HEA, "bct"), ["'bct'", "fcc, bcc, hcp"]),
        (lambda: make_slab(HEA, "fcc", fixed_layers=4, layers=4), ["fixed_layers 4", "0 to"]),
        (lambda: make_slab(HEA, "fcc", size=(1, 3)), ["(1, 3)", ">= 2"]),
        (lambda: make_slab({"Pt": 0.99, "Ni": 0.01}, "fcc"), ["Ni", "at least"]),
    ],
)
def test_slab_bad_input(call, words):
    with pytest.raises(AlloyscreenError) as info:
        call()
    assert "\n" not in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_unknown_adsorbate():
    slab = make_slab({"Pt": 1.0}, "fcc")
    with pytest.raises(AlloyscreenError, match="'COOH'.*H, OH, O, CO"):
        place_adsorbate(slab, find_sites(slab.structure)[0], "COOH")


def test_an_adsorbate_that_moved_is_found_on_the_site_it_settled_on():
    slab = make_slab({"Cu": 0.5, "Pt": 0.5}, "fcc", size=(3, 3), seed=2)
    sites = find_sites(slab.structure)
    start = next(site for site in sites if site.kind == "fcc")
    placed = place_adsorbate(slab, start, "H").structure
    assert settled_site(sites, placed, -1) == start
    top = next(site for site in sites if site.kind == "top" and site.atom_indices[0] not in start.atom_indices)
    across = slab.structure.lattice.matrix[0] + [0.1, -0.1, 0.0]  # a periodic image, a little off the site
    placed.replace(len(placed) - 1, "H", np.array([*top.position[:2], placed[-1].coords[2]]) + across,
                   coords_are_cartesian=True)
    assert settled_site(sites, placed, -1) == top
