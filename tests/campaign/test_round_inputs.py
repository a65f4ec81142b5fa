"""Rounds pass references, never the growing history: the stored input of round 10 is no larger than round 1's."""

from __future__ import annotations

import json
import re

import pytest
from jobflow import Flow
from monty.json import jsanitize

from alloyscreen.campaign.engine.execution import run_here
from alloyscreen.campaign.engine.flow import CampaignMaker
from alloyscreen.campaign.labels.history import stage_history
from alloyscreen.campaign.spec import load_spec


def _round_jobs(responses: dict) -> dict[int, object]:
    """Round index -> the active-learning round job each response created."""
    found = {}
    pending = [response.replace for by_index in responses.values() for response in by_index.values()
               if response.replace is not None]
    while pending:
        item = pending.pop()
        if isinstance(item, Flow):
            pending.extend(item.jobs)
        elif re.fullmatch(r"round \d+", item.name):
            found[item.function_args[2]] = item  # (maker, campaign id, round, previous outcomes)
    return found


@pytest.mark.slow
def test_the_stored_input_of_round_ten_is_no_larger_than_round_one(database):
    spec = load_spec({
        "name": "many-rounds", "seed": 2,
        "candidates": {"elements": ["Cu", "Ni", "Pd", "Au"], "n_components": 2,
                       "sampling": {"kind": "grid", "step": 0.125}, "prototype": "fcc"},
        "initial_random": 4, "acquisition": {"batch_size": 1, "strategy": "ucb"},
        "stopping": {"max_rounds": 12, "patience": 20},
        "stages": [{"name": "emt", "calculator": "emt", "max_validations": 20,
                    "structure": {"method": "random", "supercell": [2, 1, 1]}}],
    })
    rounds = _round_jobs(run_here(CampaignMaker.from_spec(spec).make()))
    assert set(range(1, 13)) <= set(rounds)
    size = {index: len(json.dumps(jsanitize(job.function_args, strict=True, allow_bson=True)))
            for index, job in rounds.items()}
    assert size[10] <= size[1], size
    assert len(rounds[10].function_args[3]) == 1  # only the previous round's outcome: one reference
    history = stage_history(spec.campaign_id, "emt")
    assert len(history) == 4 + 11 and [o.round for o in history] == sorted(o.round for o in history)
