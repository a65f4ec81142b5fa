"""Bad candidate specs: one AlloyscreenError line naming the value and what is allowed."""

from __future__ import annotations

import pytest

from alloyscreen.candidates import CandidateSpace
from alloyscreen.errors import AlloyscreenError

BASE = {"elements": ["Pt", "Pd", "Fe", "Co"], "n_components": 3, "sampling": {"kind": "grid", "step": 0.1}}


@pytest.mark.parametrize("change, message", [
    ({"elements": ["Pt", "Pd", "Xy"]}, r"unknown element symbol 'Xy'; allowed"),
    ({"n_components": 5}, r"n_components 5 is more than the 4 elements available; allowed: 1\.\.4"),
    ({"n_components": 4, "excluded": ["Co"]}, r"more than the 3 elements available"),
    ({"sampling": {"kind": "grid", "step": 0.03}}, r"grid step 0\.03; allowed: a step that divides 1"),
    ({"required": ["Pt", "Pd"], "min_fraction": {"Pt": 0.6, "Pd": 0.5}}, r"leave the candidate space empty"),
    ({"max_fraction": {"Pt": 0.1, "Pd": 0.1, "Fe": 0.1, "Co": 0.1}}, r"leave the candidate space empty"),
    ({"prototype": "diamond"}, r"prototype 'diamond'; allowed: fcc, bcc, hcp, auto"),
    ({"windows": {"VEC": [7, 9]}}, r"unknown descriptor 'VEC'; allowed: n_components, vec"),
    ({"required": ["Au"]}, r"element 'Au' is not in the pool; allowed: Pt, Pd, Fe, Co"),
    ({"required": ["Pt"], "excluded": ["Pt"]}, r"'Pt' is both required and excluded"),
    ({"min_fraction": {"Pt": 1.5}}, r"min_fraction\.Pt = 1\.5; allowed: 0 <= fraction <= 1"),
    ({"n_components": [3, 2]}, r"n_components \[3, 2\]|n_components \(3, 2\)"),
    ({"sampling": {"kind": "grid", "step": "fine"}}, r"candidates spec sampling\.grid\.step='fine'"),
    ({"sampling": {"kind": "lattice"}}, r"candidates spec sampling="),
    ({"elements": ["O", "Pt", "Pd"], "prototype": "auto"}, r"needs the VEC of 'O'.*allowed: fcc, bcc or hcp"),
    ({"sampling": {"kind": "dirichlet", "n_samples": 10}, "min_fraction": {"Pt": 0.33, "Pd": 0.33, "Fe": 0.33,
                                                                           "Co": 0.33}},
     r"dirichlet draws meet the fraction bounds"),
    ({"sampling": {"kind": "dirichlet", "n_samples": 10, "alpha": 0}}, r"dirichlet alpha 0\.0; allowed: alpha > 0"),
    ({"sampling": {"kind": "explicit", "compositions": ["PtAu"]}}, r"'Au' of an explicit composition is not in"),
    ({"sampling": {"kind": "explicit", "compositions": ["Pt(("]}}, r"cannot read formula 'Pt\(\('"),
])
def test_bad_spec_raises_one_line(change, message):
    with pytest.raises(AlloyscreenError, match=message) as error:
        CandidateSpace({**BASE, **change})
    assert "\n" not in str(error.value)


def test_bad_chunk_size():
    with pytest.raises(AlloyscreenError, match="chunk_size 0"):
        next(CandidateSpace(BASE).iter_chunks(0))
