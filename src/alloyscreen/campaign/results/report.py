"""``alloyscreen report``: one self-contained HTML file with a campaign's results and plots.

Every plot is a PNG drawn with matplotlib (``Figure`` objects, Agg canvas, no
pyplot state) and embedded as base64, so the file can be mailed or archived on
its own. Each section says in words what its plot shows and where the numbers
come from. The queries live in :mod:`alloyscreen.campaign.results.queries`.
"""

from __future__ import annotations

import base64
import html
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure
from pymongo.database import Database
from scipy.special import gammaln
from sklearn.model_selection import KFold
from sklearn.model_selection import cross_val_predict as sk_cross_val_predict

from alloyscreen.campaign.results.queries import (
    MIN_PAIRS,
    campaign_labels,
    campaign_rounds,
    campaign_status,
    find_campaign,
    rank_by_stage,
)
from alloyscreen.campaign.results.selection_tables import importance_table, selection_table
from alloyscreen.campaign.round.models import CV_FOLDS, load_stored_model
from alloyscreen.campaign.round.objectives import objective_of, objective_values, rank
from alloyscreen.campaign.spec import CampaignSpec
from alloyscreen.structures.surface import zone_features
from alloyscreen.surrogates.acquisition import Objective
from alloyscreen.surrogates.crossval import cross_val_predict, min_labels_for_cv
from alloyscreen.surrogates.ensemble import EnsembleRegressor
from alloyscreen.surrogates.sites import PiecewiseLinearSiteModel, SiteActivityModel, surface_energies
from alloyscreen.validation.adsorption import ADSORPTION_UNITS

TOP_ROWS = 15
RANKER_KINDS = ("potential-", "committee-", "gnn-", "finetune-")  # models of a ranker, not the trees
STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
th{background:#eee}td.l{text-align:left}p.what{color:#444;max-width:900px}img{max-width:100%}"""


@dataclass
class ReportData:
    """What the report shows, as pandas tables (one query per collection)."""

    spec: CampaignSpec
    status: dict[str, Any]
    labels: pd.DataFrame
    selections: pd.DataFrame
    predictions: pd.DataFrame
    ranker_predictions: pd.DataFrame
    models: pd.DataFrame
    candidates: pd.DataFrame
    sites: pd.DataFrame
    site_model: SiteActivityModel | None

    @property
    def objective(self) -> Objective:
        """The labelled objective (the one validations measure)."""
        return objective_of(self.spec)

    def first_stage(self, prop: str | None = None, column: str = "value") -> pd.Series:
        """Labels of the active-learning stage: candidate id -> ``column`` (value or label_id) of ``prop``.

        ``prop`` defaults to the campaign target.
        """
        prop = prop or self.spec.target
        rows = self.labels[(self.labels.stage == self.spec.stages[0].name) & (self.labels.property == prop)]
        return rows.drop_duplicates("candidate_id").set_index("candidate_id")[column]


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame(columns=columns)


def load_report_data(database: Database, key: str) -> ReportData:
    """Read everything the report needs for campaign ``key`` (id, id prefix or name)."""
    campaign = find_campaign(database, key)
    rounds = campaign_rounds(database, campaign["_id"])
    labels = _frame(campaign_labels(database, campaign["_id"]),
                    ["label_id", "candidate_id", "stage", "property", "value", "calculator", "calculation_id"])
    selections = _frame(rounds["selections"], ["round", "batch_position", "candidate_id", "acquisition", "model_id"])
    spec = CampaignSpec.model_validate(campaign["spec"])
    # the surrogates of the first labelled objective (further ones are shown on the Pareto front only)
    predictions = _frame([p for p in rounds["predictions"] if p["target"] == spec.target],
                         ["round", "candidate_id", "model_id", "mean", "std", "score", "rank"])
    model_round = predictions.groupby("model_id")["round"].min().to_dict()
    models = _frame([{
        "model_id": m["_id"], "kind": m["kind"], "round": model_round.get(m["_id"]),
        "n_labels": len(m["training_label_ids"]), "training": set(m["training_label_ids"]), "cv": m.get("cv"),
        "selection": m.get("selection"), "importances": m.get("importances")}
        for m in rounds["models"] if m["target"] == spec.target],
        ["model_id", "kind", "round", "n_labels", "training", "cv", "selection", "importances"]).sort_values("round")
    ranker = predictions.model_id.isin(models.model_id[models.kind.str.startswith(RANKER_KINDS)])
    ids = sorted(set(labels.candidate_id) | set(predictions.candidate_id) | set(selections.candidate_id))
    candidates = _frame(list(database["candidates"].find(
        {"_id": {"$in": ids}}, {"formula": 1, "prototype": 1, "composition": 1})),
        ["_id", "formula", "prototype", "composition"]).set_index("_id")
    adsorption = labels.label_id[labels.property.isin(list(ADSORPTION_UNITS))].tolist()
    sites = _frame([{"candidate_id": label["candidate_id"], "stage": stage, **row}
                    for label in database["labels"].find({"_id": {"$in": adsorption}}, {"candidate_id": 1,
                                                                                       "details.sites": 1})
                    for stage in labels.stage[labels.label_id == label["_id"]].head(1)
                    for row in label["details"]["sites"] if row.get("site") is not None],
                   ["candidate_id", "stage", "adsorbate", "kind", "energy", "moved", "site"])
    trained = [m for m in rounds["models"] if m["kind"].startswith("site-")]
    latest = max(trained, key=lambda m: len(m["training_label_ids"]), default=None)
    site_model = load_stored_model(database, latest["_id"]) if latest is not None else None
    return ReportData(spec, campaign_status(database, campaign["_id"]), labels, selections,
                      predictions[~ranker], predictions[ranker], models, candidates, sites, site_model)


def _image(figure: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(
        f'<td class="l">{html.escape(v)}</td>' if isinstance(v, str) else f"<td>{_number(v)}</td>" for v in row)
        + "</tr>" for row in frame.itertuples(index=False))
    return f"<table><tr>{head}</tr>{body}</table>"


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else html.escape(str(value))


def _section(anchor: str, title: str, what: str, *body: str) -> str:
    return f'<h2 id="{anchor}">{html.escape(title)}</h2><p class="what">{what}</p>' + "".join(body)


def _summary(data: ReportData) -> str:
    status = data.status
    stages = pd.DataFrame(status["stages"])
    failures = f"<p>{len(status['failures'])} failed calculation(s):</p>" + _table(
        pd.DataFrame(status["failures"])) if status["failures"] else "<p>No failed calculations.</p>"
    spec = html.escape(yaml.safe_dump(data.spec.model_dump(mode="json"), sort_keys=False))
    what = (f"Campaign <b>{html.escape(status['name'])}</b> (id <code>{status['campaign_id']}</code>): "
            f"status <b>{html.escape(status['status'])}</b>, round {status['round']}"
            + (f" ({html.escape(status['message'])})" if status["message"] else "")
            + f"; {status['selections']} selections, {status['models']} surrogate models. "
            "Budgets: validations and core-hours spent per stage of the fidelity ladder.")
    return _section("summary", "Summary", what, _table(stages), failures, _agreement(status["stage_agreement"]),
                    f"<details><summary>campaign spec</summary><pre>{spec}</pre></details>")


def _agreement(agreement: list[dict[str, Any]]) -> str:
    """Each pair of stages' rank correlation and sign agreement, or why there is none (as ``alloyscreen status``)."""
    if not agreement:
        return ""
    table = pd.DataFrame({
        "stages": [" → ".join(row["stages"]) for row in agreement],
        "property": [row["property"] for row in agreement],
        "n (labelled at both)": [row["n"] for row in agreement],
        "Spearman": [np.nan if row["spearman"] is None else row["spearman"] for row in agreement],
        "same sign": [np.nan if row["sign_agreement"] is None else row["sign_agreement"] for row in agreement],
        "note": [row["note"] or "" for row in agreement]})
    return ("<p class=\"what\">Agreement between the stages of the fidelity ladder, over the candidates both "
            "labelled: Spearman's rank correlation of their labels and the fraction of those candidates whose "
            f"labels have the same sign; no number with fewer than {MIN_PAIRS} candidates.</p>" + _table(table))


def _last_round(data: ReportData) -> pd.DataFrame:
    if data.predictions.empty:
        return data.predictions
    return data.predictions[data.predictions["round"] == data.predictions["round"].max()].set_index("candidate_id")


def _ranking(data: ReportData) -> str:
    spec, last = data.spec, _last_round(data)
    rows = rank_by_stage(spec, data.labels.to_dict("records"), data.candidates.composition.to_dict())[:TOP_ROWS]
    if not rows:
        return _section("ranking", "Ranked candidates", "No validated labels yet.")
    order = [row["candidate_id"] for row in rows]
    last_training = data.models.set_index("model_id").training.get(last.model_id.iloc[0], set()) if len(last) else set()
    label_ids = data.first_stage(column="label_id")
    calculators = {stage.name: stage.calculator for stage in spec.stages}
    table = pd.DataFrame({"formula": data.candidates.formula.reindex(order).values,
                          "prototype": data.candidates.prototype.reindex(order).values,
                          "ranked by stage": [f"{row['ranked_by_stage']} ({calculators[row['ranked_by_stage']]})"
                                              for row in rows],
                          "selected in round": data.selections.drop_duplicates("candidate_id")
                          .set_index("candidate_id")["round"].reindex(order).values})
    if len(spec.objectives) > 1:
        table["Pareto front"] = [row["pareto_front"] for row in rows]
    for stage in spec.stages:
        table[f"{stage.name} ({stage.calculator})"] = [row.get(stage.name, np.nan) for row in rows]
    others = [o.name for o in spec.objectives if o.name != spec.target] if len(spec.objectives) > 1 else []
    for name in others:  # at the stage the row is ranked by
        table[name] = [row[name] for row in rows]
    table["predicted mean"] = last["mean"].reindex(order).values if len(last) else np.nan
    table["predicted std"] = last["std"].reindex(order).values if len(last) else np.nan
    table["in training set"] = ["yes" if label_ids.get(c) in last_training else "no" for c in order]
    table.insert(0, "rank", np.arange(1, len(order) + 1))
    unit = spec.target_unit
    within = ("Pareto front on the objectives at that stage, then " if len(spec.objectives) > 1 else "")
    what = (f"The {len(order)} best candidates, each ranked by its most trusted label: first those the highest "
            f"stage of the fidelity ladder labelled, then those whose highest stage is the one below, and so on "
            f"('ranked by stage'); within a stage by {within}the validated {spec.target} ({unit}, "
            f"{data.objective.direction}). With each stage's label and the prediction (mean and calibrated std) of "
            "the last round's surrogate, which learns the first stage's labels. 'in training set': the last "
            "surrogate was fitted on that label, so its prediction there is not a test.")
    body = [_table(table)]
    if len(last):
        body.append(_ranking_figure(data, last, data.objective, unit))
    return _section("ranking", "Ranked candidates", what, *body)


def _ranking_figure(data: ReportData, last: pd.DataFrame, objective: Objective, unit: str) -> str:
    top = last.iloc[np.argsort(-objective.utility(last["mean"].values), kind="stable")[:20]]
    labels = data.first_stage().reindex(top.index)
    figure = Figure(layout="constrained", figsize=(7, 0.28 * len(top) + 1.2))
    axes = figure.subplots()
    y = np.arange(len(top))[::-1]
    axes.errorbar(top["mean"], y, xerr=top["std"], fmt="o", color="C0", capsize=2, label="predicted mean ± 1 std")
    axes.plot(labels.values, y, "x", color="C3", markersize=8, label="validated label")
    axes.set_yticks(y, data.candidates.formula.reindex(top.index).values, fontsize=8)
    axes.set_xlabel(f"{data.spec.target} ({unit})")
    axes.legend(fontsize=8)
    round_index = int(last["round"].iloc[0])
    return (f"<p class=\"what\">The last round's ({round_index}) {len(top)} best candidates by predicted mean "
            "(calibrated ±1 std error bars) next to their validated labels where they have one.</p>"
            + _image(figure, "last round ranking"))


def _held_out(data: ReportData, predictions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Predictions (default: the trees') of each round on candidates whose label the model was not trained on."""
    predictions = data.predictions if predictions is None else predictions
    values, label_ids = data.first_stage(), data.first_stage(column="label_id")
    training = data.models.set_index("model_id").training
    rows = predictions[predictions.candidate_id.isin(values.index)].copy()
    rows["label"] = values.reindex(rows.candidate_id).values
    rows["held_out"] = [label_ids[c] not in training.get(m, set()) for c, m in zip(rows.candidate_id, rows.model_id,
                                                                                  strict=True)]
    return rows[rows.held_out]


def _parity(data: ReportData) -> str:
    rows = _held_out(data)
    unit = data.spec.target_unit
    confirm = _fidelity_pairs(data)
    if rows.empty and confirm.empty:
        return _section("parity", "Surrogate against validation",
                        "No prediction has a label obtained later yet (needs at least one round after a model).")
    figure = Figure(layout="constrained", figsize=(11 if len(confirm) else 5.5, 5))
    axes = figure.subplots(1, 2 if len(confirm) else 1, squeeze=False)[0]
    error = np.abs(rows["mean"] - rows["label"]).values
    std = rows["std"].values
    for round_index, group in rows.groupby("round"):
        axes[0].errorbar(group["label"], group["mean"], yerr=group["std"], fmt="o", capsize=2, alpha=0.8,
                         label=f"round {round_index}")
    _diagonal(axes[0], rows[["label", "mean"]].values)
    axes[0].set(xlabel=f"validated label ({unit})", ylabel=f"predicted mean ({unit})",
                title="surrogate (held out) vs validation")
    if len(rows):
        axes[0].legend(fontsize=8)
    what = (f"Left: every round's surrogate prediction (mean ± calibrated 1 std) against the label the "
            f"{data.spec.stages[0].name} stage gave later for the same candidate; only candidates the model was "
            f"not trained on ({len(rows)} points; a candidate predicted in several rounds appears once per round). "
            + (f"MAE {np.mean(error):.3g} {unit}; {np.mean(error <= std):.0%} of labels inside ±1 std "
               f"(68% expected), {np.mean(error <= 2 * std):.0%} inside ±2 std (95% expected). " if len(rows) else ""))
    if len(confirm):
        axes[1].plot(confirm["first"], confirm["value"], "o")
        for row in confirm.itertuples():
            axes[1].annotate(data.candidates.formula.get(row.candidate_id, ""), (row.first, row.value), fontsize=7)
        _diagonal(axes[1], confirm[["first", "value"]].values)
        axes[1].set(xlabel=f"{data.spec.stages[0].name} label ({unit})", ylabel=f"confirmation label ({unit})",
                    title="fidelity ladder")
        what += (f"Right: the {len(confirm)} candidates confirmed at later stages "
                 f"({', '.join(sorted(confirm.stage.unique()))}) against their first-stage label.")
    return _section("parity", "Surrogate against validation", what, _image(figure, "parity"))


def _ranker(data: ReportData) -> str:
    title = "Ranker against validation"
    if data.ranker_predictions.empty:
        return _section("ranker", title, "No ranker re-ranked a round (a spec's 'ranker' section re-ranks each "
                                         "round's top slice with a calibrated universal potential).")
    rows, unit = _held_out(data, data.ranker_predictions), data.spec.target_unit
    models = data.models[data.models.kind.str.startswith(RANKER_KINDS)]
    table = pd.DataFrame({"round": models["round"].values, "ranker": models.kind.values,
                          "calibration labels": models.n_labels.values,
                          "leave-one-out MAE": [cv["mae"] if cv else np.nan for cv in models.cv],
                          "leave-one-out Spearman": [cv["spearman"] if cv else np.nan for cv in models.cv]})
    what = ("Each round the potential's mixing energy, mapped onto the labels by a line fitted on the labels so far "
            "(spread: its leave-one-out RMS residual), re-ranked the trees' best candidates. ")
    body = [_table(table)]
    if len(rows):
        error = np.abs(rows["mean"] - rows["label"]).values
        std = rows["std"].values
        figure = Figure(layout="constrained", figsize=(5.5, 5))
        axes = figure.subplots()
        for round_index, group in rows.groupby("round"):
            axes.errorbar(group["label"], group["mean"], yerr=group["std"], fmt="o", capsize=2, alpha=0.8,
                          label=f"round {round_index}")
        _diagonal(axes, rows[["label", "mean"]].values)
        axes.set(xlabel=f"validated label ({unit})", ylabel=f"calibrated potential ({unit})",
                 title="ranker vs validation")
        axes.legend(fontsize=8)
        what += (f"The plot: its calibrated prediction (± spread) against the label the {data.spec.stages[0].name} "
                 f"stage gave later ({len(rows)} points): MAE {np.mean(error):.3g} {unit}; {np.mean(error <= std):.0%} "
                 f"inside ±1 spread (68% expected), {np.mean(error <= 2 * std):.0%} inside ±2 (95% expected).")
        body.append(_image(figure, "ranker parity"))
    return _section("ranker", title, what, *body)


def _fidelity_pairs(data: ReportData) -> pd.DataFrame:
    first = data.first_stage()
    later = data.labels[(data.labels.stage != data.spec.stages[0].name) & (data.labels.property == data.spec.target)
                        & data.labels.candidate_id.isin(first.index)].copy()
    later["first"] = first.reindex(later.candidate_id).values
    return later


def _diagonal(axes, points: np.ndarray) -> None:
    if points.size:
        low, high = np.nanmin(points), np.nanmax(points)
        axes.plot([low, high], [low, high], "k--", lw=1)


def _learning(data: ReportData) -> str:
    models = data.models[~data.models.kind.str.startswith(RANKER_KINDS)]
    if models.empty:
        return _section("learning", "Learning curve", "No surrogate has been trained yet.")
    rows = _held_out(data)
    selected = data.selections.drop_duplicates("candidate_id").set_index("candidate_id")["round"]
    in_round = rows[selected.reindex(rows.candidate_id).values == rows["round"].values]
    out_of_round = (in_round.assign(error=np.abs(in_round["mean"] - in_round["label"]))
                    .groupby("round")["error"].mean())
    table = pd.DataFrame({
        "round": models["round"].values, "training labels": models.n_labels.values,
        "CV MAE": [cv["mae"] if cv else np.nan for cv in models.cv],
        "CV RMSE": [cv["rmse"] if cv else np.nan for cv in models.cv],
        "CV Spearman": [cv["spearman"] if cv else np.nan for cv in models.cv],
        "coverage 68%": [cv["calibration"]["coverage_after"]["p68"] if cv and cv.get("calibration") else np.nan
                         for cv in models.cv],
        "coverage 95%": [cv["calibration"]["coverage_after"]["p95"] if cv and cv.get("calibration") else np.nan
                         for cv in models.cv],
        "next-batch MAE": out_of_round.reindex(models["round"].values).values,
    })
    figure = Figure(layout="constrained", figsize=(6, 4))
    axes = figure.subplots()
    axes.plot(table["training labels"], table["CV MAE"], "o-", label="cross-validated MAE")
    axes.plot(table["training labels"], table["next-batch MAE"], "s--", label="MAE on the batch it chose")
    axes.set(xlabel="labels the surrogate was trained on", ylabel=f"MAE ({data.spec.target_unit})")
    axes.legend(fontsize=8)
    what = ("Surrogate error against training-set size, one point per round's model: the cross-validated MAE "
            "stored with the model (absent when too few labels for CV) and the MAE of its predictions on the "
            "batch it selected, whose labels came afterwards (an honest out-of-round test, biased towards "
            "the candidates the acquisition liked). Coverage: fraction of held-out CV labels inside the "
            "calibrated 68% / 95% intervals.")
    return _section("learning", "Learning curve", what, _image(figure, "learning curve"), _table(table))


def _models(data: ReportData) -> str:
    """The learner each round trained (and how CV chose it) and the descriptors its trees leaned on."""
    title = "Model selection and descriptor importance"
    models = data.models[data.models.kind.str.startswith("ensemble-")]
    if models.empty:
        return _section("models", title, "No tree surrogate has been trained yet.")
    top = data.spec.surrogate.importance_top
    what = ("Each round's tree surrogate: its learner and hyperparameters, and, when the spec lists several "
            "learners or a grid, how 5-fold cross-validation (the same folds for every candidate) chose them, with "
            "every candidate's CV error (target units) as the choice saw it. Then the descriptors the trees leaned "
            f"on (each round's stored top {top}; '-': outside that round's list): the learner's split gain (fraction "
            "of the total, on the training labels) and the held-out permutation importance (increase of the "
            f"out-of-fold MAE, {data.spec.target_unit}, when a column's held-out values are redrawn).")
    body = [_table(selection_table(models))]
    for kind, caption in (("gain", "Split gain (fraction of the total)"),
                          ("permutation", f"Held-out permutation importance ({data.spec.target_unit})")):
        table = importance_table(models, kind, top)
        shown = _table(table) if len(table) else ("<p>No model stores it (the permutation needs labels enough to "
                                                  "cross-validate; models stored before importances have neither).</p>")
        body.append(f"<h3>{html.escape(caption)}</h3>{shown}")
    return _section("models", title, what, *body)


def _site_parity(data: ReportData, axes, elements: list[str]) -> str:
    """Each site model's out-of-fold site energy against the computed one, beside the piecewise-linear baseline's."""
    if data.site_model is None:
        return "No site model yet (too few computed sites, or no activity objective on fcc). "
    parts = []
    for name, ensemble in data.site_model.ensembles.items():
        rows = data.sites[(data.sites.adsorbate == name) & (data.sites.moved == False)  # noqa: E712
                          & data.sites.kind.isin(data.site_model.kinds[name])]
        X, y = zone_features(rows.site.tolist(), elements), rows.energy.to_numpy(dtype=float)
        if len(y) < min_labels_for_cv(CV_FOLDS):
            parts.append(f"*{name}: {len(y)} stayed sites, too few to cross-validate")
            continue
        trees, _ = cross_val_predict(EnsembleRegressor(**ensemble.get_params()), X, y, CV_FOLDS, data.spec.seed)
        folds = KFold(CV_FOLDS, shuffle=True, random_state=data.spec.seed)
        linear = sk_cross_val_predict(PiecewiseLinearSiteModel(len(elements)), X, y, cv=folds)
        axes.plot(y, trees, "o", alpha=0.7, label=f"*{name} site model, MAE {np.abs(trees - y).mean():.3f} eV")
        axes.plot(y, linear, "x", alpha=0.7, label=f"*{name} piecewise linear, MAE {np.abs(linear - y).mean():.3f} eV")
        _diagonal(axes, np.column_stack([y, trees]))
        parts.append(f"*{name}: {len(y)} stayed sites")
    axes.set(xlabel="computed site energy (eV)", ylabel=f"{CV_FOLDS}-fold held-out (eV)", title="site model parity")
    axes.legend(fontsize=7)
    return (f"Left ({'; '.join(parts)}): each computed site whose adsorbate stayed, its energy (ΔG; ΔE for *CO) "
            f"against its adsorbate's site model's {CV_FOLDS}-fold held-out prediction (the learner and settings "
            "of the campaign's latest site model) and the piecewise-linear baseline's (Batchelor et al., Joule 3, "
            "834 (2019)). ")


def _sites(data: ReportData) -> str:
    """Catalysis as site distributions: the site models' parity, the top candidates' site energies and activity."""
    title = "Sites: the site model and the site energies of the best candidates"
    if data.sites.empty:
        return _section("sites", title, "No adsorption label with its sites' environments in this campaign.")
    elements = data.spec.candidate_elements
    figure = Figure(layout="constrained", figsize=(11, 4.5))
    parity_axes, histogram_axes = figure.subplots(1, 2)
    what = _site_parity(data, parity_axes, elements)
    model = data.site_model
    large = None if model is None else SiteActivityModel(model.ensembles, model.elements, model.kinds, 100,
                                                         model.seed, model.activity, model.references)
    first = data.first_stage()
    best = first.index[np.argsort(-data.objective.utility(first.to_numpy(dtype=float)), kind="stable")][:3]
    rows = []
    for candidate_id in best:
        formula = data.candidates.formula.get(candidate_id, candidate_id)
        mine = data.sites[data.sites.candidate_id == candidate_id]
        for adsorbate, energies in mine.groupby("adsorbate").energy:
            computed = energies.dropna().to_numpy(dtype=float)
            histogram_axes.hist(computed, bins=12, alpha=0.5,
                                label=f"{formula} *{adsorbate} computed ({len(computed)})")
        row = {"candidate": formula, "computed sites": len(mine)}
        if large is not None:
            labelled = data.labels[(data.labels.candidate_id == candidate_id)
                                   & (data.labels.property == large.activity)].value
            row[f"{large.activity} of computed sites"] = float(labelled.iloc[0]) if len(labelled) else None
            composition = data.candidates.composition.get(candidate_id)
            name = next(iter(large.ensembles))
            predicted = surface_energies(large.ensembles[name], composition, elements, large.kinds[name][0])
            histogram_axes.hist(predicted.mean(axis=0), bins=40, alpha=0.3, histtype="step",
                                label=f"{formula} *{name} predicted, 100 x 100")
            row[f"predicted {large.activity}, 100 x 100"] = float(large.predict_moments_of([composition])[0][0])
        rows.append(row)
    histogram_axes.set(xlabel="site energy: ΔG (ΔE for *CO) (eV)", ylabel="sites",
                       title="site energies of the best candidates")
    histogram_axes.legend(fontsize=7)
    if large is not None:
        pure = large.predict_moments_of([{metal: 1.0} for metal in elements])[0]
        rows.extend({"candidate": f"{metal} (pure)", f"predicted {large.activity}, 100 x 100": float(value)}
                    for metal, value in zip(elements, pure, strict=True))
    what += ("Right: the computed site energies of each adsorbate (ΔG; ΔE for *CO) of the three best candidates "
             "of the first stage and, with a site model, the predicted energies of its first adsorbate on every "
             "site of a simulated 100 x 100 surface at each composition (the members' mean). The table: their "
             "activity (see alloyscreen.catalysis.activity: HER, the mean site rate per site in units of k0, "
             "Nørskov et al., J. Electrochem. Soc. 152, J23 (2005); ORR against Pt(111); the CO2RR share) from "
             "the computed sites (the label) and as the site models predict it, against the pool's pure metals as "
             "the site models predict them.")
    return _section("sites", title, what, _image(figure, "sites"), _table(pd.DataFrame(rows)))


def expected_best_of_random(utility: np.ndarray) -> np.ndarray:
    """Expected best utility of ``n`` draws without replacement from ``utility``, for n = 1 .. len(utility).

    With utilities sorted best first, ``P(best of n is worse than the i-th) = C(N-i, n) / C(N, n)``.
    """
    ordered = np.sort(np.asarray(utility, dtype=float))[::-1]
    total = len(ordered)
    i = np.arange(total + 1)
    expected = np.empty(total)
    for n in range(1, total + 1):
        worse = np.where(total - i >= n, np.exp(gammaln(total - i + 1) - gammaln(np.maximum(total - i - n, 0) + 1)
                                                - gammaln(total + 1) + gammaln(total - n + 1)), 0.0)
        expected[n - 1] = np.sum(ordered * (worse[:-1] - worse[1:]))
    return expected


def _discovery(data: ReportData) -> str:
    objective, first = data.objective, data.first_stage()
    if first.empty:
        return _section("discovery", "Discovery curve", "No validated labels yet.")
    order = data.selections.drop_duplicates("candidate_id")
    utility = objective.utility(first.reindex(order.candidate_id).values)
    best = np.fmax.accumulate(np.where(np.isnan(utility), -np.inf, utility))
    best[np.isinf(best)] = np.nan
    sign, name = (1, "best") if objective.direction == "maximize" else (-1, "lowest")
    if objective.direction == "target":
        name = f"smallest |value - {objective.target}|"
    baseline = expected_best_of_random(utility[~np.isnan(utility)])
    figure = Figure(layout="constrained", figsize=(6, 4))
    axes = figure.subplots()
    steps = np.arange(1, len(best) + 1)
    axes.step(steps, sign * best, where="post", label=f"campaign ({data.spec.acquisition.strategy})")
    axes.plot(np.arange(1, len(baseline) + 1), sign * baseline, "--", color="grey",
              label="random baseline (expected, from the validated set)")
    initial = int((order["round"] == 0).sum())
    axes.axvline(initial + 0.5, color="k", lw=0.8, ls=":", label="end of the random initial round")
    axes.set(xlabel=f"validations at stage {data.spec.stages[0].name}",
             ylabel=f"{name} {data.spec.target} found ({data.spec.target_unit})")
    axes.legend(fontsize=8)
    what = (f"The {name} label found so far against the number of {data.spec.stages[0].name} validations, in "
            "the order the campaign selected them (failed validations count as spent). Random baseline: the "
            "expected best of n draws without replacement from the validated labels themselves (exact "
            "order statistics). The validated set was enriched by the acquisition, so this baseline is harder "
            "to beat than random screening of the whole space, and it meets the campaign's curve at the end "
            "by construction: look at how early the campaign's curve drops.")
    return _section("discovery", "Discovery curve", what, _image(figure, "discovery curve"))


def _pareto(data: ReportData) -> str:
    spec = data.spec
    if len(spec.objectives) < 2:
        only = spec.objectives[0]
        return _section("pareto", "Pareto front",
                        f"Single-objective campaign ({only.name}, {only.direction}): there is no Pareto front; "
                        "the ranking and the discovery curve above show the optimum.")
    first = data.labels[data.labels.stage == spec.stages[0].name].drop_duplicates(["candidate_id", "property"])
    labels = first.pivot(index="candidate_id", columns="property", values="value").reindex(columns=spec.targets)
    labels = labels.dropna()
    if labels.empty:
        return _section("pareto", "Pareto front", "No candidate has been validated yet.")
    compositions = data.candidates.composition.reindex(labels.index)
    values = objective_values(spec, labels.to_dict("records"), list(compositions.values))
    order, fronts = rank(spec, values)
    front = fronts == 0
    figure = Figure(layout="constrained", figsize=(6, 4.5))
    axes = figure.subplots()
    axes.plot(values[~front, 0], values[~front, 1], "o", color="grey", label="dominated")
    axes.plot(values[front, 0], values[front, 1], "o", color="C3", label="Pareto front")
    axes.legend(fontsize=8)
    names = [f"{o.name} ({o.direction}{'' if o.target is None else f' {o.target}'})"
             + (f" [{o.unit}]" if o.unit else "") for o in spec.objectives]
    axes.set(xlabel=names[0], ylabel=names[1])
    for k, set_scale in enumerate((axes.set_xscale, axes.set_yscale)):
        if (values[:, k] > 0).all() and values[:, k].max() > 100 * values[:, k].min():  # e.g. cost: decades
            set_scale("log")
    on_front = order[front[order]]
    table = pd.DataFrame({"formula": data.candidates.formula.reindex(labels.index[on_front]).values,
                          **{name: values[on_front, k] for k, name in enumerate(names)}})
    what = (f"Candidates validated at stage {html.escape(spec.stages[0].name)!r} on the campaign's "
            f"{len(names)} objectives (plotted: the first two); the {int(front.sum())} non-dominated ones (no other "
            "candidate is at least as good on every objective and better on one) in red. Objectives known from "
            "the composition are exact; labelled ones are the validated values.")
    return _section("pareto", "Pareto front", what, _image(figure, "pareto front"), _table(table))


def _composition(data: ReportData) -> str:
    last, first = _last_round(data), data.first_stage()
    ids = sorted(set(last.index) | set(first.index))
    if not ids:
        return _section("composition", "Composition maps", "No candidate has been predicted or validated yet.")
    compositions = data.candidates.composition.reindex(ids)
    elements = sorted({e for c in compositions for e in c})
    X = np.array([[c.get(e, 0.0) for e in elements] for c in compositions])
    centre = X.mean(axis=0)
    _, singular, axes_pc = np.linalg.svd(X - centre, full_matrices=False)
    components = np.zeros((2, len(elements)))
    components[:min(2, len(axes_pc))] = axes_pc[:2]
    points = pd.DataFrame((X - centre) @ components.T, index=ids, columns=["pc1", "pc2"])
    corners = (np.eye(len(elements)) - centre) @ components.T
    explained = singular[:2] ** 2 / np.sum(singular ** 2) if np.sum(singular ** 2) else np.zeros(2)
    figure = Figure(layout="constrained", figsize=(11, 4.5))
    panels = figure.subplots(1, 2)
    shown = [(panels[0], last["mean"] if len(last) else pd.Series(dtype=float), "last round's predicted mean"),
             (panels[1], first, f"validated label ({data.spec.stages[0].name})")]
    for axes, values, title in shown:
        xy = points.reindex(values.index)
        scatter = axes.scatter(xy.pc1, xy.pc2, c=values.values, cmap="viridis", s=40, edgecolors="k", linewidths=0.3)
        for element, (x, y) in zip(elements, corners, strict=True):
            axes.annotate(element, (x, y), xytext=(0, 5), textcoords="offset points", color="grey", ha="center")
        axes.plot(*corners.T, "+", color="grey")
        axes.set(title=title, xlabel=f"PC1 ({explained[0]:.0%})", ylabel=f"PC2 ({explained[1]:.0%})")
        if len(values):
            figure.colorbar(scatter, ax=axes, label=f"{data.spec.target} ({data.spec.target_unit})")
    if len(first):
        best = first.index[np.argmax(data.objective.utility(first.values))]
        panels[1].plot(points.pc1[best], points.pc2[best], "*", color="C3", markersize=16, label="best")
        panels[1].legend(fontsize=8)
    what = ("Compositions (atomic fractions over " + ", ".join(elements) + ") projected on their first two "
            "principal components; grey crosses mark the pure elements, so the plot is a projection of the "
            "composition simplex. Left: the candidates of the last round's stored top slice (acquisition.keep_top; "
            "colour: predicted mean); "
            "right: the validated candidates (colour: label), the best starred.")
    return _section("composition", "Composition maps", what, _image(figure, "composition maps"))


SECTIONS = (("summary", _summary), ("ranking", _ranking), ("parity", _parity), ("ranker", _ranker),
            ("learning", _learning), ("models", _models), ("discovery", _discovery), ("pareto", _pareto),
            ("composition", _composition), ("sites", _sites))


def render_report(data: ReportData) -> str:
    """The report of ``data`` as one HTML document."""
    title = f"alloyscreen report: {data.status['name']}"
    nav = " | ".join(f'<a href="#{anchor}">{anchor}</a>' for anchor, _ in SECTIONS)
    body = "".join(section(data) for _, section in SECTIONS)
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1><p>{nav}</p>{body}</body></html>")


def write_report(database: Database, campaign_key: str, path: str | Path) -> Path:
    """Write the HTML report of campaign ``campaign_key`` to ``path`` (atomically); return the path."""
    document = render_report(load_report_data(database, campaign_key))
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(document, encoding="utf-8")
    os.replace(temporary, path)
    return path
