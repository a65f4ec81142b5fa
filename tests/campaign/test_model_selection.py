"""Model selection and descriptor importance in a campaign: what the model documents record, what the report shows.

Real EMT labels, real XGBoost and scikit-learn forests, the embedded database.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from tests.campaign.checks import run_to_the_end

from alloyscreen.campaign.results.report import load_report_data, write_report
from alloyscreen.campaign.round.models import train_surrogate
from alloyscreen.campaign.spec import load_spec
from alloyscreen.candidates import CandidateSpace
from alloyscreen.descriptors.featurizer import COLUMNS
from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.model import ModelDocument
from alloyscreen.structures.bulk import random_solid_solution
from alloyscreen.surrogates.crossval import Candidate, cross_validate, fit_calibrated
from alloyscreen.surrogates.ensemble import EnsembleRegressor, model_id

SPACE = {"elements": ["Cu", "Ni", "Pd", "Au"], "n_components": [2, 3], "sampling": {"kind": "grid", "step": 0.25},
         "prototype": "fcc"}


def _spec(name: str, surrogate: dict | None = None, validations: int = 11) -> dict:
    return {
        "name": name, "seed": 1, "candidates": SPACE, "initial_random": 7,
        "acquisition": {"batch_size": 2, "strategy": "ucb"},
        "stages": [{"name": "emt", "calculator": "emt", "max_validations": validations,
                    "structure": {"method": "random", "supercell": [1, 1, 1]}}],
        **({"surrogate": surrogate} if surrogate is not None else {}),
    }


def _models(database, campaign_id: str) -> list[ModelDocument]:
    found = database["models"].find({"provenance.campaign_id": campaign_id}, sort=[("provenance.created_at", 1)])
    return [ModelDocument.from_mongo(doc) for doc in found]


@pytest.fixture(scope="module")
def two_learner_campaign(database):
    """Rounds: 7 random labels; a model chosen by CV on 7 labels; one on 9 labels keeping that choice (< 7 x 1.3)."""
    return run_to_the_end(_spec("two-learners", {
        "learners": ["xgboost", "random_forest"], "select_from": 7, "select_every": 0.3, "importance_top": 5}))


def test_campaign_records_the_choice_and_importances_on_each_model(database, two_learner_campaign):
    first, second = _models(database, two_learner_campaign.campaign_id)
    selection = first.selection
    assert selection is not None and selection.fresh and selection.n_labels == 7 and selection.n_splits == 5
    assert [(c.learner, c.params) for c in selection.candidates] == [("xgboost", {}), ("random_forest", {})]
    scores = [c.rmse for c in selection.candidates]
    assert scores[[c.learner for c in selection.candidates].index(selection.learner)] == min(scores)
    assert all(c.mae <= c.rmse for c in selection.candidates)
    assert first.kind == f"ensemble-{selection.learner}"
    # the next model kept that choice: its labels grew from 7 to 9, less than select_every (30%)
    assert len(second.training_label_ids) == 9 and second.selection is not None
    assert not second.selection.fresh and second.selection.n_labels == 7
    assert second.kind == first.kind and second.selection.candidates == selection.candidates
    for model in (first, second):
        importances = model.importances
        assert importances is not None and importances.n_descriptors == len(COLUMNS)
        assert len(importances.gain) == 5 and len(importances.permutation) == 5
        for ranking in (importances.gain, importances.permutation):
            assert {entry.descriptor for entry in ranking} <= set(COLUMNS)
            values = [entry.value for entry in ranking]
            assert values == sorted(values, reverse=True)
        assert 0 < sum(entry.value for entry in importances.gain) <= 1 + 1e-9
        assert importances.permutation[0].value > 0  # leaving the best column out of the held-out folds hurts


def test_report_shows_the_learner_of_each_round_and_the_top_descriptors(database, two_learner_campaign, tmp_path):
    models = _models(database, two_learner_campaign.campaign_id)
    text = write_report(database, two_learner_campaign.campaign_id, tmp_path / "report.html").read_text()
    section = text[text.index('<h2 id="models">'):text.index('<h2 id="discovery">')]
    assert "Model selection and descriptor importance" in section
    chosen = f"{models[0].selection.learner} (defaults)"
    assert section.count(f'<td class="l">{chosen}</td>') == 2  # both rounds trained it
    assert "CV on these 7 labels" in section and "kept from 7 labels" in section
    assert "<th>xgboost (defaults)</th>" in section and "<th>random_forest (defaults)</th>" in section
    for model in models:
        for entry in model.importances.gain + model.importances.permutation:
            assert f'<td class="l">{entry.descriptor}</td>' in section
    assert re.findall(r"<th>(round \d+)</th>", section) == ["round 1", "round 2"] * 2  # gain, then permutation
    data = load_report_data(database, two_learner_campaign.campaign_id)
    assert list(data.models["round"]) == [1, 2]


@pytest.mark.parametrize(("surrogate", "message"), [
    ({"learner": "svm"}, "surrogate.learner: unknown surrogate learner 'svm'; allowed: catboost, random_forest, "
                         "xgboost"),
    ({"learners": ["xgboost", "gaussian_process"]}, "unknown surrogate learner 'gaussian_process'; allowed:"),
    ({"learners": ["xgboost", "xgboost"]}, "list 'xgboost' twice; allowed: each learner once"),
    ({"learner": "catboost", "learners": ["xgboost", "random_forest"]},
     "learner 'catboost' is not among learners ['xgboost', 'random_forest'], which replace it; allowed: learner for "
     "one, learners for several"),
    ({"learners": ["xgboost"], "grid": {"catboost": {"depth": [4]}}},
     "grid names learner 'catboost', which is not among the learners ['xgboost']; allowed: xgboost"),
    ({"grid": {"xgboost": {"max_dept": [3, 6]}}}, "xgboost takes no parameter 'max_dept'; did you mean 'max_depth'?"),
    ({"learners": ["xgboost", "random_forest"], "grid": {"random_forest": {"depth": [3]}}},
     "random_forest takes no parameter 'depth'; did you mean 'max_depth'?"),
    ({"grid": {"xgboost": {"max_depth": []}}}, "'max_depth': an empty list; allowed: one value or more"),
    ({"grid": {"xgboost": {"max_depth": [3, 3]}}}, "'max_depth': 3 is listed twice; allowed: distinct values"),
    ({"grid": {"xgboost": {"max_depth": 3}}}, "surrogate.grid.xgboost.max_depth: Input should be a valid list"),
    ({"params": {"max_depth": 4}, "grid": {"xgboost": {"max_depth": [3, 6]}}},
     "params and the grid of xgboost both set 'max_depth'; allowed: one of them"),
    ({"params": {"max_depth": 4}, "learners": ["xgboost", "catboost"]},
     "with several learners ['xgboost', 'catboost']: each learner takes its own; allowed: fixed values as "
     "one-value grid lists"),
    ({"learners": ["xgboost", "catboost"], "grid": {"xgboost": {"max_depth": [2, 4, 6]}, "catboost": {"depth": [4, 6]}},
      "select_from": 9},  # 5 candidates fit the default 10 labels, not 9
     "a selection among 5 candidates (xgboost: 3, catboost: 2) needs select_from of at least 10 labels"),
    ({"grid": {"xgboost": {"max_depth": [2, 4, 6], "n_estimators": [100, 300]}}},
     "a selection among 6 candidates (xgboost: 6) needs select_from of at least 12 labels (2 per candidate), got "
     "10; allowed: fewer learners or grid values, or select_from: 12"),
    ({"select_from": 6}, "surrogate.select_from: Input should be greater than or equal to 7"),
    ({"select_by": "r2"}, "surrogate.select_by: Input should be 'rmse' or 'mae'"),
])
def test_bad_selection_is_refused_at_load_in_one_line(surrogate, message):
    with pytest.raises(AlloyscreenError) as refused:
        load_spec(_spec("refused", surrogate))
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_new_fields_at_their_defaults_keep_the_campaign_id():
    plain = load_spec(_spec("same"))
    spelled = load_spec(_spec("same", {"learner": "xgboost", "learners": [], "grid": {}, "select_every": 0.0,
                                       "select_from": 10, "select_by": "rmse", "importance_top": 10}))
    assert spelled.campaign_id == plain.campaign_id
    assert load_spec(_spec("same", {"learners": ["xgboost", "catboost"]})).campaign_id != plain.campaign_id


def _emt_table(database, count: int) -> tuple[list[dict[str, float]], np.ndarray]:
    """EMT mixing energies (eV/atom) of the first ``count`` compositions of SPACE: vc-relaxed 4-atom cells."""
    from alloyscreen.validation.maker import validate
    from alloyscreen.validation.references import elemental_references

    elements = SPACE["elements"]
    fractions = np.concatenate([chunk.fractions for chunk in CandidateSpace(SPACE).iter_chunks()])[:count]
    references = elemental_references(elements, "emt", {})
    mu = np.array([float(references[e].calculation.energy_per_atom) for e in elements])
    compositions, values = [], []
    for row in fractions:
        composition = {e: float(x) for e, x in zip(elements, row, strict=True) if x > 0}
        structure = random_solid_solution(composition, "fcc", supercell=(1, 1, 1), seed=0).structure
        document, _ = validate(structure, "emt", {}, "vc-relax")
        compositions.append(composition)
        values.append(document.energy_per_atom - float(np.dot(row, mu)))
    return compositions, np.array(values)


def test_selection_picks_the_candidate_with_the_lower_cv_error_on_emt_labels(database):
    compositions, y = _emt_table(database, 30)
    spec = load_spec(_spec("selection-emt", {
        "learners": ["xgboost", "random_forest"], "grid": {"xgboost": {"n_estimators": [3]}}, "select_from": 20}))
    stored = train_surrogate(spec, compositions, list(y), [f"label-{i}" for i in range(len(y))], round_index=1)
    document = ModelDocument.from_mongo(database["models"].find_one({"_id": stored}))
    # the same two candidates, cross-validated here on their own
    from alloyscreen.campaign.round.models import descriptor_matrix

    X = descriptor_matrix(compositions, spec.descriptors)
    errors = {c.learner: cross_validate(EnsembleRegressor(c.learner, 5, learner_params=c.params or None,
                                                          random_state=spec.seed + 1), X, y, seed=spec.seed).rmse
              for c in spec.surrogate.model_candidates}
    better, worse = sorted(errors, key=errors.get)
    assert errors[worse] > 1.3 * errors[better]  # one is clearly better on these labels
    assert document.selection.learner == better and document.kind == f"ensemble-{better}"
    assert {c.learner: c.rmse for c in document.selection.candidates} == pytest.approx(errors)
    assert document.hyperparameters["learner_params"] == (None if better == "random_forest" else {"n_estimators": 3})


def test_a_single_learner_trains_the_model_it_trained_before(database):
    """Default surrogate: no selection, the same bytes (so the same model id) as the calibrated fit alone."""
    compositions, y = _emt_table(database, 12)
    spec = load_spec(_spec("single-learner"))
    stored = train_surrogate(spec, compositions, list(y), [f"label-{i}" for i in range(len(y))], round_index=2)
    from alloyscreen.campaign.round.models import descriptor_matrix

    model = EnsembleRegressor("xgboost", 5, random_state=spec.seed + 2)
    fit_calibrated(model, descriptor_matrix(compositions, spec.descriptors), y, n_splits=5, seed=spec.seed)
    assert stored == model_id(model.to_bytes())
    document = ModelDocument.from_mongo(database["models"].find_one({"_id": stored}))
    assert document.selection is None and document.importances is not None
    assert len(document.importances.gain) == 10 and len(document.importances.permutation) == 10
    assert spec.surrogate.model_candidates == [Candidate("xgboost", {})]
