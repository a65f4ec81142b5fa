"""Screening a space through a stored surrogate, and the streamed scoring behind it (top slice, summary, shards)."""

from __future__ import annotations

import csv
import io
import json

import gridfs
import numpy as np
import pytest
from click.testing import CliRunner

from alloyscreen.campaign.round.models import load_stored_model
from alloyscreen.campaign.round.objectives import objective_of
from alloyscreen.campaign.round.scoring import QUANTILES, ScoredSlice, Summary, score_space
from alloyscreen.campaign.round.screen import screen
from alloyscreen.candidates import CandidateSpace
from alloyscreen.cli.main import _Group
from alloyscreen.cli.screen import screen_command
from alloyscreen.descriptors import featurize
from alloyscreen.errors import AlloyscreenError

SPACE = {"elements": ["Pt", "Pd", "Fe", "Co", "Ni", "Cu"], "n_components": [2, 4], "prototype": "auto",
         "sampling": {"kind": "grid", "step": 0.05}}
COLUMNS = ["vec", "delta", "omega"]


def _rounded_scorer(comps, X, positions):
    """Mean from the descriptors, rounded so that many candidates tie; the score is its negative."""
    mean = np.round(3 * X[:, 0], 1)
    return mean, X[:, 1], -mean


def _pareto_scorer(comps, X, positions):
    return X[:, 0], X[:, 1], np.column_stack([X[:, 0], -X[:, 2]])


def _two_labels_filtered_scorer(comps, X, positions):
    """Two labelled objectives (2-D mean and std); the first 7000 candidates filtered out (NaN: never kept)."""
    scores = np.column_stack([X[:, 0], -X[:, 2]])
    scores[positions < 7000] = np.nan
    return X[:, :2], X[:, 1:], scores


def _every_prediction(spec, model):
    """Ids, predicted means and stds of every candidate of the campaign's space, in stream order."""
    ids, means, stds = [], [], []
    for chunk in CandidateSpace(spec.candidates).iter_chunks(5):
        mean, std = model.predict(featurize(chunk.compositions(), spec.descriptors).values, return_std=True)
        ids += chunk.ids()
        means.append(mean)
        stds.append(std)
    return ids, np.concatenate(means), np.concatenate(stds)


def _assert_quantiles_close(described: dict, values: np.ndarray) -> None:
    exact = np.quantile(values, QUANTILES, method="lower")
    estimated = np.array([described[f"p{round(100 * q):g}"] for q in QUANTILES])
    assert np.all(np.abs(estimated - exact) <= 2**-7 * np.abs(exact) + 1e-12), (estimated, exact)


@pytest.mark.parametrize("scorer", [_rounded_scorer, _pareto_scorer, _two_labels_filtered_scorer])
@pytest.mark.parametrize("full_ranking", [0, 10**9])
def test_shards_merge_into_what_one_job_keeps(scorer, full_ranking):
    space = CandidateSpace(SPACE)
    one = score_space(space, COLUMNS, scorer, 60, chunk_size=997, full_ranking=full_ranking)
    assert one.summary.rows == space.size == 18240
    for count in (2, 3, 7):
        shards = [score_space(space, COLUMNS, scorer, 60, chunk_size=997, shard=(i, count), full_ranking=full_ranking)
                  for i in range(count)]
        assert sum(s.summary.rows for s in shards) == space.size
        merged = ScoredSlice.merge([ScoredSlice.from_bytes(s.to_bytes()) for s in shards], 60)
        assert merged.ids == one.ids and merged.compositions == one.compositions
        for name in ("X", "mean", "std", "scores", "fronts", "positions"):
            assert np.array_equal(getattr(merged, name), getattr(one, name)), name
        assert merged.summary.rows == one.summary.rows and merged.summary.total == one.summary.total
        for name in ("count", "minimum", "maximum", "histogram"):
            assert np.array_equal(getattr(merged.summary, name), getattr(one.summary, name)), name
        if full_ranking:
            for name in ("position", "score", "mean"):
                assert np.array_equal(getattr(merged.ranking, name), getattr(one.ranking, name), equal_nan=True), name
        else:
            assert merged.ranking is None


def test_summary_matches_every_score_and_the_ranking_is_kept_only_below_the_threshold():
    space = CandidateSpace(SPACE)
    full = score_space(space, COLUMNS, _rounded_scorer, 10, chunk_size=4096, full_ranking=space.size)
    assert np.array_equal(full.ranking.position, np.arange(space.size))
    means = full.ranking.mean.astype(float)  # float32 in the ranking
    described = full.summary.describe("mean")
    assert described["count"] == space.size
    assert [described[k] for k in ("min", "mean", "max")] == pytest.approx([means.min(), means.mean(), means.max()],
                                                                           rel=1e-6)
    _assert_quantiles_close(described, means)
    assert full.summary.describe("score")["max"] == full.scores[0] == -described["min"]
    with np.load(io.BytesIO(full.ranking_blob())) as blob:
        assert len(blob["position"]) == len(blob["score"]) == len(blob["mean"]) == space.size
        assert Summary.from_arrays(blob).describe("mean") == described
    above = score_space(space, COLUMNS, _rounded_scorer, 10, chunk_size=4096, full_ranking=space.size - 1)
    assert above.ranking is None and above.ids == full.ids
    with np.load(io.BytesIO(above.ranking_blob())) as blob:
        assert "position" not in blob.files
        assert Summary.from_arrays(blob).describe("mean") == described


def test_a_campaign_round_stores_its_ranking_with_the_summary(database, finished_campaign):
    size = CandidateSpace(finished_campaign.candidates).size
    files = list(gridfs.GridFS(database, "rankings").find({"metadata.campaign_id": finished_campaign.campaign_id}))
    assert len(files) == 2  # the two model rounds
    for file in files:
        assert file.metadata["full"] and file.metadata["candidates"] == size
        with np.load(io.BytesIO(file.read())) as blob:
            assert sorted(blob["position"]) == list(range(size))
            assert Summary.from_arrays(blob).describe("mean")["count"] == size


def test_screen_keeps_the_best_of_the_whole_space(database, finished_campaign):
    spec = finished_campaign
    latest = database["selections"].find_one({"campaign_id": spec.campaign_id, "round": 2})["model_id"]
    result = screen("results-fixture", top=4, chunk_size=5)
    assert result.model_id == latest and result.campaign_id == spec.campaign_id
    ids, mean, std = _every_prediction(spec, load_stored_model(database, latest))
    order = np.argsort(-objective_of(spec).utility(mean), kind="stable")[:4]
    rows = result.top()
    assert [row["candidate_id"] for row in rows] == [ids[i] for i in order]
    assert [row["position"] for row in rows] == list(order)
    assert [row["mean"] for row in rows] == pytest.approx(mean[order], rel=1e-12)
    assert [row["std"] for row in rows] == pytest.approx(std[order], rel=1e-12)
    summary = result.to_dict()["summary"]
    assert summary["count"] == len(ids) and summary["min"] == mean.min() and summary["max"] == mean.max()
    assert summary["mean"] == pytest.approx(mean.mean(), rel=1e-12)
    _assert_quantiles_close(summary, mean)

    in_two = screen(spec, top=4, workers=2, chunk_size=5)
    assert in_two.top() == rows and in_two.to_dict()["summary"] == summary

    first = database["selections"].find_one({"campaign_id": spec.campaign_id, "round": 1})["model_id"]
    assert first != latest
    older = screen(spec.campaign_id, model_id=first, top=4, chunk_size=5)
    _, first_mean, _ = _every_prediction(spec, load_stored_model(database, first))
    assert older.model_id == first and older.to_dict()["summary"]["max"] == first_mean.max()


def test_screen_errors_are_one_line(database, finished_campaign):
    with pytest.raises(AlloyscreenError, match="no campaign 'no-such-campaign'"):
        screen("no-such-campaign")
    with pytest.raises(AlloyscreenError, match="no model with id 'nope'"):
        screen("results-fixture", model_id="nope")
    unrun = {**finished_campaign.model_dump(mode="json"), "name": "never-run"}
    with pytest.raises(AlloyscreenError, match="campaign never-run .* has no stored surrogate yet"):
        screen(type(finished_campaign).model_validate(unrun))


def test_cli_prints_writes_and_fails_in_one_line(database, finished_campaign, tmp_path):
    group = _Group(commands={"screen": screen_command})
    shown = CliRunner().invoke(group, ["screen", "results-fixture", "-n", "3", "--json"])
    assert shown.exit_code == 0, shown.output
    result = json.loads(shown.stdout)
    assert result["campaign"] == "results-fixture" and len(result["top"]) == 3
    assert result["candidates"] == CandidateSpace(finished_campaign.candidates).size
    assert result["unit"] == "eV/atom" and result["direction"] == "minimize"

    out = tmp_path / "top.csv"
    text = CliRunner().invoke(group, ["screen", "results-fixture", "-n", "3", "--out", str(out), "--quiet"])
    assert text.exit_code == 0, text.output
    assert "quantiles: p1 " in text.stdout and result["top"][0]["formula"] in text.stdout
    with out.open() as handle:
        written = list(csv.DictReader(handle))
    assert [row["candidate_id"] for row in written] == [row["candidate_id"] for row in result["top"]]

    for args, expected in [(["no-such-campaign"], "no campaign 'no-such-campaign'"),
                           (["results-fixture", "--model", "nope"], "no model with id 'nope'"),
                           (["results-fixture", "--out", str(tmp_path / "top.txt")], "allowed: a file ending in")]:
        failed = CliRunner().invoke(group, ["screen", *args])
        assert failed.exit_code == 2
        lines = failed.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], failed.stderr
    assert not (tmp_path / "top.txt").exists()
