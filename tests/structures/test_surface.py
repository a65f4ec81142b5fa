"""Simulated surfaces: the sites of an n x n grid have exactly the features find_sites gives on a slab."""

import re
from collections import Counter

import numpy as np
import pytest

from alloyscreen.errors import AlloyscreenError
from alloyscreen.structures import find_sites, make_slab
from alloyscreen.structures.composition import integer_counts
from alloyscreen.structures.surface import (
    simulated_surface,
    site_feature_names,
    site_features,
    site_members,
    surface_of_slab,
)

ELEMENTS = ["Au", "Cu", "Ni", "Pd", "Pt"]


@pytest.mark.parametrize("size", [3, 4, 6])
def test_every_site_of_the_grid_has_the_features_find_sites_gives_on_the_same_slab(size):
    slab = make_slab(dict.fromkeys(ELEMENTS, 0.2), "fcc", size=(size, size), layers=4, seed=size).structure
    sites = find_sites(slab)
    surface = surface_of_slab(slab, ELEMENTS)
    for kind in ("top", "bridge", "fcc", "hcp"):
        on_slab = Counter(map(tuple, site_features([s for s in sites if s.kind == kind], ELEMENTS)))
        on_grid = Counter(map(tuple, surface.features(kind)))
        assert on_grid == on_slab and sum(on_grid.values()) == size * size * (3 if kind == "bridge" else 1)


@pytest.mark.parametrize("kind", ["top", "bridge", "fcc", "hcp"])
def test_site_members_are_the_atoms_whose_elements_the_site_zone_counts(kind):
    surface = simulated_surface(dict.fromkeys(ELEMENTS, 0.2), size=5, seed=1, elements=ELEMENTS)
    members = site_members(kind, surface.size)
    top = surface.occupation[0].ravel()
    counted = surface.features(kind)[:, :len(ELEMENTS)]
    assert members.shape == (len(counted), {"top": 1, "bridge": 2}.get(kind, 3))
    assert all(np.bincount(top[row], minlength=len(ELEMENTS)).tolist() == counts.tolist()
               for row, counts in zip(members, counted, strict=True))
    assert kind == "bridge" or np.bincount(members.ravel()).tolist() == [members.shape[1]] * surface.size ** 2


def test_zone_sizes_are_those_of_fcc111():
    features = simulated_surface({"Cu": 0.5, "Pt": 0.5}, size=8, seed=0).features
    blocks = {kind: features(kind).reshape(-1, 3, 2).sum(axis=2) for kind in ("top", "bridge", "fcc", "hcp")}
    assert {kind: tuple(np.unique(block, axis=0)[0]) for kind, block in blocks.items()} == {
        "top": (1, 6, 3), "bridge": (2, 8, 5), "fcc": (3, 9, 6), "hcp": (3, 9, 7)}  # hcp: one atom right below
    assert site_feature_names(["Cu", "Pt"]) == ["site_Cu", "site_Pt", "surface_Cu", "surface_Pt", "subsurface_Cu",
                                                "subsurface_Pt"]


def test_each_layer_holds_the_composition_and_the_seed_fixes_the_decoration():
    composition = {"Pt": 0.35, "Pd": 0.25, "Ni": 0.4}
    surface = simulated_surface(composition, size=20, seed=1)
    counts, _ = integer_counts(dict(sorted(composition.items())), 400)
    for layer in surface.occupation:
        assert dict(zip(surface.elements, np.bincount(layer.ravel(), minlength=3).tolist(), strict=True)) == counts
    again, other = simulated_surface(composition, size=20, seed=1), simulated_surface(composition, size=20, seed=2)
    assert np.array_equal(again.occupation, surface.occupation) and not np.array_equal(other.occupation,
                                                                                      surface.occupation)


@pytest.mark.parametrize(("call", "words"), [
    (lambda: simulated_surface({"Pt": 1.0}, size=4).features("hollow"), "site kind 'hollow'; allowed on fcc(111)"),
    (lambda: simulated_surface({"Pt": 0.5, "Cu": 0.5}, elements=["Pt"]), "elements ['Cu'] of the composition"),
    (lambda: simulated_surface({"Pt": 1.0}, size=1), "surface size 1; allowed: an integer >= 2"),
    (lambda: simulated_surface({"Pt": 0.5, "Xx": 0.5}), "unknown element 'Xx'"),
])
def test_bad_input_is_one_line(call, words):
    with pytest.raises(AlloyscreenError, match=re.escape(words)) as raised:
        call()
    assert "\n" not in str(raised.value)
