"""A small finished campaign shared by the report and notebook tests (EMT, about a minute)."""

from __future__ import annotations

import pytest
from tests.campaign.checks import run_to_the_end

from alloyscreen.campaign.spec import CampaignSpec, load_spec


@pytest.fixture(scope="session")
def finished_campaign(database) -> CampaignSpec:
    """Run a tiny campaign once: random round, two model rounds, one SQS confirmation."""
    spec = load_spec({
        "name": "results-fixture", "seed": 3,
        "candidates": {"elements": ["Cu", "Ni", "Pd", "Au"], "n_components": [2, 3],
                       "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"},
        "initial_random": 5, "acquisition": {"batch_size": 2, "strategy": "ucb"},
        "stages": [
            {"name": "emt", "calculator": "emt", "max_validations": 9,
             "structure": {"method": "random", "supercell": [1, 1, 1]}},
            {"name": "emt-sqs", "calculator": "emt", "max_validations": 1,
             "structure": {"method": "sqs", "supercell": [2, 1, 1], "iterations": 500}},
        ],
    })
    run_to_the_end(spec)
    return spec
