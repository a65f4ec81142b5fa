"""Ranking compositions by HER activity: the site-resolved model against today's one-slab ΔG_H, on a cheap oracle.

For ``--compositions`` compositions drawn at random (flat Dirichlet, seeded) from
the pool of ``site_model.py`` (Ag, Au, Cu, Pd, Pt):

- ``reference``: the HER activity (:func:`~alloyscreen.catalysis.activity.her_activity`)
  of every fcc site of ``--dense`` random (111) slabs of the composition,
  densely computed;
- ``one_slab_delta_g_h``: the label a campaign stored before site models, ΔG_H
  of the most stable of up to 6 sites (fcc, hcp, top, bridge, round-robin) of
  one slab, ranked by its distance to 0 (the closer, the more active);
- ``one_slab_activity``: the HER activity of the fcc sites of that one slab's
  decoration (a slab of the dense set, so no extra calculation);
- ``site_model``: the calibrated tree ensemble trained on the fcc sites of
  ``--train-slabs`` slabs of other random compositions, predicting every fcc
  site of a simulated 100 x 100 surface of each composition (members' mean).

Each estimate's Spearman rank correlation against the reference. Every slab
is labelled by the project's own ``AdsorptionMaker`` flow on a throwaway
embedded database, as in ``site_model.py`` (sites whose H moved included: the
reference and the estimates see the same oracle).

Oracle: EMT by default. It is unfit for the physics of H adsorption (its ΔE_H
barely depends on the metal, see ``site_model.py``), but it is a cheap,
deterministic oracle on which to measure how well each estimate recovers
that oracle's own ranking, which is what this benchmark asks; CHGNet
(``--calculator chgnet``) measures the same at about 50 times the cost.

    python benchmarks/site_ranking.py [--calculator emt] [--compositions 20] [--dense 8] [--train-slabs 30] [--quick]

``--quick`` (a check of the script, not a figure): 4 compositions, 2 dense
slabs of 2 x 2, 6 training slabs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time

import numpy as np
from scipy.stats import spearmanr
from scratch import scratch_database
from site_model import POOL

from alloyscreen.catalysis.activity import her_activity
from alloyscreen.catalysis.adsorbates import ADSORBATES
from alloyscreen.structures import make_slab
from alloyscreen.structures.surface import zone_features
from alloyscreen.surrogates.crossval import fit_calibrated
from alloyscreen.surrogates.ensemble import EnsembleRegressor
from alloyscreen.surrogates.sites import surface_energies
from alloyscreen.validation.adsorption import AdsorptionMaker
from alloyscreen.validation.maker import ValidationMaker

ONE_SLAB_KINDS = ["fcc", "hcp", "top", "bridge"]  # the SlabSpec defaults of the one-slab label
ONE_SLAB_SITES = 6


def random_composition(rng: np.random.Generator, atoms: int) -> dict[str, float]:
    """A composition exact on a slab of ``atoms`` atoms, drawn from a flat Dirichlet over the pool."""
    counts = rng.multinomial(atoms, rng.dirichlet(np.ones(len(POOL))))
    return {element: n / atoms for element, n in zip(POOL, counts, strict=True) if n}


def label(maker: AdsorptionMaker, composition: dict[str, float], size: int, seed: int, name: str) -> dict:
    """Run ``maker`` on a random slab of ``composition``; return its label output and its site rows."""
    from alloyscreen.campaign.engine.execution import run_here
    from alloyscreen.db.client import get_database

    slab = make_slab(composition, "fcc", size=(size, size), layers=4, fixed_layers=2, vacuum=10.0, seed=seed)
    flow = maker.make(slab.structure, candidate_id=name)
    outcome = run_here(flow)[flow.jobs[-1].uuid][1].output
    found = get_database()["labels"].find_one({"_id": outcome.label_id})
    return {"value": outcome.value, "rows": [row for row in found["details"]["sites"] if row["energy"] is not None]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calculator", default="emt")
    parser.add_argument("--compositions", type=int, default=20)
    parser.add_argument("--dense", type=int, default=8)
    parser.add_argument("--train-slabs", type=int, default=30)
    parser.add_argument("--size", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a check of the script: 4 compositions, 2x2 slabs")
    args = parser.parse_args(argv)
    if args.quick:
        args.compositions, args.dense, args.train_slabs, args.size = 4, 2, 6, 2
    rng = np.random.default_rng(args.seed)
    atoms = 4 * args.size * args.size
    validation = ValidationMaker(calculator=args.calculator)
    fcc = AdsorptionMaker(validation=validation, site_kinds=["fcc"], pool=POOL)
    today = AdsorptionMaker(validation=validation, site_kinds=ONE_SLAB_KINDS, max_sites=ONE_SLAB_SITES, pool=POOL)
    compositions = [random_composition(rng, atoms) for _ in range(args.compositions)]
    started = time.perf_counter()
    with scratch_database("site_ranking"), contextlib.redirect_stdout(sys.stderr):  # CHGNet's banners: stdout JSON
        dense = [[label(fcc, c, args.size, seed, f"dense-{k}-{seed}") for seed in range(args.dense)]
                 for k, c in enumerate(compositions)]
        one_slab = [label(today, c, args.size, 0, f"today-{k}")["value"] for k, c in enumerate(compositions)]
        training = [row for index in range(args.train_slabs)
                    for row in label(fcc, random_composition(rng, atoms), args.size, 1000 + index,
                                     f"train-{index}")["rows"]]
    labelled_s = time.perf_counter() - started
    energies = [[np.array([row["energy"] for row in slab["rows"]]) for slab in slabs] for slabs in dense]
    reference = np.array([float(her_activity(np.concatenate(slabs))) for slabs in energies])
    model = EnsembleRegressor(random_state=args.seed)
    fit_calibrated(model, zone_features([row["site"] for row in training], POOL),
                   np.array([row["energy"] for row in training]))
    predicted = np.array([float(her_activity(surface_energies(model, c, POOL, "fcc").mean(axis=0)))
                          for c in compositions])
    estimates = {"one_slab_delta_g_h": -np.abs(np.array(one_slab, dtype=float)),
                 "one_slab_activity": np.array([float(her_activity(slabs[0])) for slabs in energies]),
                 "site_model": predicted}
    print(json.dumps({
        "benchmark": "site_ranking", "calculator": args.calculator, "adsorbate": "H",
        "label": ADSORBATES["H"].prop, "pool": POOL, "compositions": len(compositions),
        "dense_slabs_per_composition": args.dense, "slab_size": args.size,
        "reference_sites_per_composition": [sum(len(e) for e in slabs) for slabs in energies],
        "training_slabs": args.train_slabs, "training_sites": len(training),
        "spearman_vs_reference": {name: float(spearmanr(values, reference).statistic)
                                  for name, values in estimates.items()},
        "reference_activity_range": [float(reference.min()), float(reference.max())],
        "labelling_wall_s": labelled_s,
    }, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
