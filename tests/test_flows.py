"""Every campaign spec shipped in flows/ loads and describes a non-empty space."""

from pathlib import Path

import pytest

from alloyscreen.campaign.spec import load_spec
from alloyscreen.candidates import CandidateSpace

FLOWS = sorted((Path(__file__).resolve().parents[1] / "flows").glob("*.yaml"))


def test_the_shipped_campaigns():
    assert {path.stem for path in FLOWS} == {"demo", "hea_stability", "ptpd_hea_her", "cheap_noble_pareto"}


@pytest.mark.parametrize("path", FLOWS, ids=[path.stem for path in FLOWS])
def test_flow_spec_loads(path):
    spec = load_spec(path)
    space = CandidateSpace(spec.candidates)
    assert space.size > 0 and len(spec.stages) >= 2
    assert next(space.iter_chunks(1000)).fractions.shape[1] == len(spec.candidates.elements)
