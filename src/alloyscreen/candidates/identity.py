"""Canonical identity of a candidate and the VEC rule for its lattice prototype.

Identity: the composition is normalised to atomic fractions summing to 1 and
rounded to 10 decimals; the id is ``content_hash({"composition": ..., "prototype": ...})``
(sha256 of canonical JSON, 24 hex digits), so the same composition and prototype
give the same id on any machine and whichever space produced it. The formula
lists elements alphabetically with fractions to 6 significant digits (for people;
the id uses the 10-decimal composition).

Ids are computed only when candidates are materialised (``CandidateChunk.ids``,
``documents``): hashing is ~10 µs a candidate in Python, too slow to run on every
one of 1e7 streamed candidates, most of which are never stored.
"""

from __future__ import annotations

import numpy as np

from alloyscreen.hashing import content_hash

FCC_MIN_VEC = 8.0  # VEC >= 8: fcc (Guo et al., J. Appl. Phys. 109, 103505 (2011))
BCC_MAX_VEC = 6.87  # VEC < 6.87: bcc
MIDPOINT_VEC = 7.435  # (6.87 + 8) / 2, where the "nearest" choice switches from bcc to fcc
DECIMALS = 10


def canonical_composition(elements: list[str] | tuple[str, ...], fractions: np.ndarray) -> dict[str, float]:
    """Return ``{symbol: fraction}`` for the nonzero entries, normalised, rounded, sorted by symbol."""
    fractions = np.asarray(fractions, dtype=np.float64)
    fractions = fractions / fractions.sum()
    return {e: round(float(f), DECIMALS) for e, f in sorted(zip(elements, fractions, strict=True)) if f > 0}


def formula(composition: dict[str, float]) -> str:
    """Return the formula of a canonical composition, e.g. ``'Co0.2Fe0.2Ni0.2Pd0.2Pt0.2'``."""
    return "".join(f"{element}{fraction:.6g}" for element, fraction in sorted(composition.items()))


def candidate_id(composition: dict[str, float], prototype: str) -> str:
    """Return the stable id of a candidate: content hash of its canonical composition and prototype."""
    return content_hash({"composition": composition, "prototype": prototype})


def prototype_from_vec(vec: np.ndarray, mixed: str = "nearest") -> np.ndarray:
    """Return the lattice prototype from the valence electron concentration.

    VEC >= 8: fcc; VEC < 6.87: bcc. In between the rule predicts fcc + bcc; a single
    lattice is chosen by ``mixed``: ``"nearest"`` (fcc if VEC >= 7.435, the midpoint,
    else bcc), ``"fcc"`` or ``"bcc"``. The rule never predicts hcp.
    """
    vec = np.asarray(vec)
    fcc_from = {"nearest": MIDPOINT_VEC, "fcc": BCC_MAX_VEC, "bcc": FCC_MIN_VEC}[mixed]
    return np.where(vec >= fcc_from, "fcc", "bcc")
