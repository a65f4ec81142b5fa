"""Assertions shared by the campaign tests."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pymatgen.core import Composition
from threadpoolctl import threadpool_limits

from alloyscreen.campaign.engine.execution import run_here
from alloyscreen.campaign.engine.flow import CampaignMaker
from alloyscreen.campaign.spec import CampaignSpec, load_spec

REFERENCE_CRYSTALS = 1  # an element's ground-state crystal (references: ground_state, the default)


def run_to_the_end(spec: CampaignSpec | dict[str, Any]) -> CampaignSpec:
    """Run the campaign of ``spec`` here to its end; return the spec.

    BLAS runs on one thread: the cell filter's 3x3 solves only contend with more (5x slower).
    """
    spec = spec if isinstance(spec, CampaignSpec) else load_spec(spec)
    with threadpool_limits(1, user_api="blas"):
        run_here(CampaignMaker.from_spec(spec).make())
    return spec


def assert_each_structure_validated_once(formulas: list[str]) -> None:
    """Every alloy formula calculated once; every element at most once per reference crystal.

    A pure-element candidate is its own reference cell: one calculation with it.
    """
    alloys = [formula for formula in formulas if len(Composition(formula)) > 1]
    assert len(alloys) == len(set(alloys)), Counter(alloys).most_common(3)
    elements = Counter(formula for formula in formulas if len(Composition(formula)) == 1)
    assert all(count <= REFERENCE_CRYSTALS for count in elements.values()), elements


def category_split_spec(name: str, seed: int) -> dict[str, Any]:
    """EMT screening (category ``cheap``), then an EMT SQS confirmation of the top 2 as a ``dft`` stage."""
    return {
        "name": name, "seed": seed,
        "candidates": {"elements": ["Cu", "Ni", "Pd"], "n_components": 2,
                       "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"},
        "initial_random": 4, "acquisition": {"batch_size": 2}, "confirm_top": 2,
        "stages": [{"name": "cheap", "calculator": "emt", "max_validations": 6, "category": "cheap",
                    "structure": {"method": "random", "supercell": [1, 1, 1]}},
                   {"name": "expensive", "calculator": "emt", "max_validations": 2, "category": "dft",
                    "structure": {"method": "sqs", "supercell": [2, 1, 1], "iterations": 200}}],
    }
