"""Screen a campaign's candidate space through a stored surrogate, validating nothing.

:func:`screen` streams every candidate through a tree ensemble (the model of the
campaign's latest scored round, which learns its first labelled objective, or one
named by id) with :func:`~alloyscreen.campaign.round.scoring.score_space`, keeps the
best ``top`` by the predicted utility of the model's objective (its direction
in the campaign) and a
fixed-size summary of the predicted mean over the whole space, so memory does
not grow with the space. With ``workers > 1`` the space is split into that many
contiguous shards scored in as many processes and merged exactly. With the spec's
``acquisition.cascade`` below 1 the ensemble's first member scores every candidate
and the whole ensemble only those that could still enter the top slice
(:mod:`~alloyscreen.campaign.round.cascade`, which states the bound).
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pymongo.database import Database
from threadpoolctl import threadpool_limits

from alloyscreen import progress
from alloyscreen.campaign.results.queries import load_campaign_spec
from alloyscreen.campaign.round.cascade import CascadeScorer
from alloyscreen.campaign.round.models import load_stored_model, stored_model_document
from alloyscreen.campaign.round.objectives import objectives_of
from alloyscreen.campaign.round.scoring import ScoredSlice, Scorer, score_space
from alloyscreen.campaign.spec import CampaignSpec, load_spec
from alloyscreen.candidates import CandidateSpace, CandidateSpaceSpec, formula
from alloyscreen.db.client import get_database
from alloyscreen.descriptors import COLUMNS, Compositions
from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.acquisition import Objective
from alloyscreen.surrogates.ensemble import EnsembleRegressor

BAR = "screening"
TREE_KIND = "ensemble-"


@dataclass
class Screen:
    """What a screen found: the best candidates by predicted utility and a summary of the whole space."""

    campaign_id: str
    campaign: str
    model_id: str
    target: str
    unit: str
    direction: str
    workers: int
    seconds: float
    scored: ScoredSlice

    def top(self) -> list[dict[str, Any]]:
        """The kept candidates, best first: rank, id, formula, prototype, predicted mean and std, stream position."""
        s = self.scored
        return [{"rank": row + 1, "candidate_id": s.ids[row], "formula": formula(s.compositions[row]),
                 "prototype": s.prototypes[row], "mean": float(s.mean[row]), "std": float(s.std[row]),
                 "position": int(s.positions[row])} for row in range(len(s.ids))]

    def to_dict(self) -> dict[str, Any]:
        """The screen as one JSON-ready object (``summary``: of the predicted mean, in ``unit``)."""
        return {"campaign_id": self.campaign_id, "campaign": self.campaign, "model_id": self.model_id,
                "target": self.target, "unit": self.unit, "direction": self.direction,
                "candidates": self.scored.summary.rows, "workers": self.workers, "seconds": round(self.seconds, 3),
                "summary": self.scored.summary.describe("mean"), "top": self.top()}


def screen(source: str | Path | CampaignSpec, model_id: str | None = None, top: int = 10, workers: int = 1,
           chunk_size: int | None = None) -> Screen:
    """Score every candidate of a campaign's space with a stored tree ensemble; keep the ``top`` best.

    Parameters
    ----------
    source : str, Path or CampaignSpec
        A spec (yaml file or object), or a campaign in the database (id, id prefix or name).
    model_id : str, optional
        A tree ensemble of the ``models`` registry learning one of the campaign's labelled properties;
        default: the model of the campaign's latest scored round (its first labelled property).
    top : int
        Candidates kept, best first by the predicted utility of the model's objective.
    workers : int
        Processes scoring contiguous shards of the space (1: here, one thread).
    chunk_size : int, optional
        Candidates featurized and scored at a time (default: the spec's ``acquisition.chunk_size``).
    """
    if top < 1 or workers < 1:
        raise AlloyscreenError(f"top {top}, workers {workers}; allowed: integers >= 1")
    spec = _campaign_spec(source)
    database = get_database()
    model_id = model_id or _latest_model_id(database, spec)
    model, objective = _tree_ensemble(database, model_id, spec)
    space = CandidateSpace(spec.candidates)
    chunk_size = chunk_size or spec.acquisition.chunk_size
    total = space.size if space.size_is_exact else None
    started = time.perf_counter()
    if workers == 1:
        scored = score_space(space, spec.descriptors, _scorer(model, objective, top, spec.acquisition.cascade),
                             top, chunk_size,
                             progress=lambda n: progress.report(BAR, n, total=total, unit="candidate"),
                             full_ranking=0)
    else:
        scored = _score_in_processes(spec, model, objective, top, chunk_size, workers, total)
    progress.finish(BAR)
    unit = next(o.unit for o in spec.labelled_objectives if o.name == objective.name)
    return Screen(spec.campaign_id, spec.name, model_id, objective.name, unit, objective.direction,
                  workers, time.perf_counter() - started, scored)


def _campaign_spec(source: str | Path | CampaignSpec) -> CampaignSpec:
    """The spec of a yaml file (a path that exists or ends in .yaml/.yml), or of a stored campaign."""
    if isinstance(source, CampaignSpec):
        return source
    path = Path(source)
    if path.suffix in {".yaml", ".yml"} or path.is_file():
        return load_spec(path)
    return load_campaign_spec(get_database(), str(source))


def _latest_model_id(database: Database, spec: CampaignSpec) -> str:
    """The surrogate of the campaign's latest round scored with a model."""
    chosen = database["selections"].find_one({"campaign_id": spec.campaign_id, "model_id": {"$ne": None}},
                                             {"model_id": 1}, sort=[("round", -1)])
    if chosen is None:
        raise AlloyscreenError(f"campaign {spec.name} ({spec.campaign_id}) has no stored surrogate yet (no round "
                               "scored with a model); allowed: a campaign past its random rounds, or --model ID")
    return chosen["model_id"]


def _tree_ensemble(database: Database, model_id: str, spec: CampaignSpec) -> tuple[EnsembleRegressor, Objective]:
    """Load ``model_id`` and its objective: a tree ensemble of a campaign's label reading its descriptor columns."""
    found = stored_model_document(database, model_id)
    if not found["kind"].startswith(TREE_KIND):
        raise AlloyscreenError(f"model {model_id} is a {found['kind']}; allowed: a tree ensemble "
                               f"({TREE_KIND}xgboost or {TREE_KIND}catboost)")
    model = load_stored_model(database, model_id)
    objective = next((o for o in objectives_of(spec) if o.name == found["target"]), None)
    if objective is None:
        raise AlloyscreenError(f"model {model_id} predicts {found['target']}; allowed: a model of campaign "
                               f"{spec.name}'s labelled properties ({', '.join(spec.targets)})")
    width = len(spec.descriptors or COLUMNS)
    if model.n_features_in_ != width:
        raise AlloyscreenError(f"model {model_id} reads {model.n_features_in_} descriptor columns, campaign "
                               f"{spec.name} gives {width}; allowed: a model trained on the campaign's descriptors")
    return model.set_params(n_jobs=1), objective


def _scorer(model: EnsembleRegressor, objective: Objective, keep: int, cascade: float) -> Scorer:
    """Predicted mean and std; the score is the mean's utility (higher is better).

    ``cascade`` below 1: a :class:`~alloyscreen.campaign.round.cascade.CascadeScorer` keeping the top ``keep``.
    """
    if cascade < 1:
        return CascadeScorer(model, objective, keep, cascade)

    def scorer(comps: Compositions, X: np.ndarray, positions: np.ndarray):
        mean, std, _ = model.predict_moments(X)
        return mean, std, objective.utility(mean)

    return scorer


def _score_in_processes(spec: CampaignSpec, model: EnsembleRegressor, objective: Objective, top: int,
                        chunk_size: int, workers: int, total: int | None) -> ScoredSlice:
    """Score ``workers`` shards in as many fresh processes (one thread each) and merge their slices."""
    context = multiprocessing.get_context("spawn")  # no fork of this process's threads (database, boosters)
    counter = context.Value("q", 0)
    initargs = (spec.candidates, spec.descriptors, model.to_bytes(), objective, counter, top, spec.acquisition.cascade)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=initargs) as pool:
        futures = [pool.submit(_score_shard, (index, workers), top, chunk_size) for index in range(workers)]
        shown, pending = 0, set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.25, return_when=FIRST_EXCEPTION)
            progress.report(BAR, counter.value - shown, total=total, unit="candidate")
            shown = counter.value
            for future in done:
                future.result()  # a worker's error stops the screen as that error
        return ScoredSlice.merge([future.result() for future in futures], top)


_worker: dict[str, Any] = {}  # the space, columns, scorer and progress counter of a worker process


def _start_worker(candidates: CandidateSpaceSpec, columns: list[str] | None, blob: bytes, objective: Objective,
                  counter, top: int, cascade: float) -> None:
    """Build a worker's space and model once (one thread: the processes are the parallelism)."""
    _worker["threads"] = threadpool_limits(1)  # held for the life of the process
    model = EnsembleRegressor.from_bytes(blob).set_params(n_jobs=1)
    _worker.update(space=CandidateSpace(candidates), columns=columns, counter=counter,
                   scorer=_scorer(model, objective, top, cascade))


def _score_shard(shard: tuple[int, int], top: int, chunk_size: int) -> ScoredSlice:
    """Score one shard in a worker, counting its candidates for the parent's progress bar."""
    def advance(n: int) -> None:
        with _worker["counter"].get_lock():
            _worker["counter"].value += n

    return score_space(_worker["space"], _worker["columns"], _worker["scorer"], top, chunk_size, progress=advance,
                       shard=shard, full_ranking=0)
