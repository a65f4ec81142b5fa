"""A campaign's objectives as arrays: the learned label beside properties known from the composition.

Utilities are higher-is-better (:class:`~alloyscreen.surrogates.acquisition.Objective`).
With one objective candidates are ordered by its utility; with two or more by
Pareto front, ties broken by the first labelled objective's utility. A
candidate's labels come as a mapping label property -> value
(:attr:`~alloyscreen.schemas.selection.SelectionOutcome.values`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from alloyscreen.campaign.labels.labelling import LabelOutcome
from alloyscreen.campaign.spec import CampaignSpec
from alloyscreen.descriptors import Compositions
from alloyscreen.descriptors.properties import composition_properties
from alloyscreen.surrogates.acquisition import Objective, acquisition_scores
from alloyscreen.surrogates.pareto import pareto_fronts


def objectives_of(spec: CampaignSpec) -> list[Objective]:
    """The campaign's objectives, in spec order, named by stored property."""
    return [Objective(objective.name, objective.direction, objective.target) for objective in spec.objectives]


def labelled_columns(spec: CampaignSpec) -> list[int]:
    """Positions of the labelled objectives among the campaign's objectives (one surrogate each)."""
    return [k for k, objective in enumerate(spec.objectives) if objective.labelled]


def labelled_column(spec: CampaignSpec) -> int:
    """Position of the first labelled objective among the campaign's objectives."""
    return labelled_columns(spec)[0]


def objective_of(spec: CampaignSpec) -> Objective:
    """The first labelled objective as the surrogates package sees it."""
    return objectives_of(spec)[labelled_column(spec)]


def moment_scores(spec: CampaignSpec, acquisition: str, round_index: int, mean: np.ndarray, std: np.ndarray,
                  y_labelled) -> np.ndarray:
    """Acquisition scores of predicted means and spreads (Thompson draws its members from each normal)."""
    rng = np.random.default_rng([spec.seed, round_index])
    members = rng.normal(mean, std, size=(spec.surrogate.n_members, len(mean))) if acquisition == "thompson" else None
    options = {"kappa": spec.acquisition.kappa} if acquisition == "ucb" else {}
    return acquisition_scores(acquisition, objective_of(spec), mean, std, members=members, y_labelled=y_labelled,
                              rng=rng, **options)


def composition_objectives(spec: CampaignSpec, comps: Compositions) -> np.ndarray:
    """Values ``(n, m)`` of every objective known from the composition; the labelled columns are NaN."""
    values = np.full((len(comps), len(spec.objectives)), np.nan)
    known = [k for k, objective in enumerate(spec.objectives) if not objective.labelled]
    if known:
        values[:, known] = composition_properties([spec.objectives[k].property for k in known], comps)
    return values


def objective_values(spec: CampaignSpec, labels: Sequence[Mapping[str, float | None]],
                     compositions: list[dict[str, float]]) -> np.ndarray:
    """Values ``(n, m)`` of every objective for labelled candidates.

    ``labels``: per candidate, label property -> value; they fill the labelled
    columns (NaN where a property has no value).
    """
    values = composition_objectives(spec, Compositions.from_dicts(compositions)) if compositions else \
        np.empty((0, len(spec.objectives)))
    for column in labelled_columns(spec):
        name = spec.objectives[column].name
        values[:, column] = [np.nan if (value := label.get(name)) is None else value for label in labels]
    return values


def utilities(spec: CampaignSpec, values: np.ndarray) -> np.ndarray:
    """Utilities ``(n, m)`` of objective values (higher is better)."""
    return np.column_stack([objective.utility(values[:, k]) for k, objective in enumerate(objectives_of(spec))]) \
        if len(values) else np.empty((0, len(spec.objectives)))


def rank(spec: CampaignSpec, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order of the rows of ``values`` (best first) and each row's Pareto front (0 for every row with one objective)."""
    u = utilities(spec, values)
    fronts = pareto_fronts(u) if len(spec.objectives) > 1 else np.zeros(len(u), dtype=int)
    order = np.lexsort((-u[:, labelled_column(spec)], fronts)) if len(u) else np.empty(0, dtype=int)
    return order, fronts


def labelled_outcomes(outcomes: list[LabelOutcome]) -> list[LabelOutcome]:
    """The outcomes with a value of every labelled property."""
    return [outcome for outcome in outcomes
            if outcome.status == "completed" and all(value is not None for value in outcome.values.values())]


def labelled_with(outcomes: list[LabelOutcome], name: str) -> list[tuple[LabelOutcome, float]]:
    """The outcomes with a value of label property ``name``, with that value (what its surrogate learns)."""
    return [(outcome, value) for outcome in outcomes if (value := outcome.values.get(name)) is not None]


def best_outcomes(spec: CampaignSpec, outcomes: list[LabelOutcome], count: int) -> list[LabelOutcome]:
    """The ``count`` best labelled outcomes, best first (by Pareto front first when there are several objectives)."""
    labelled = labelled_outcomes(outcomes)
    values = objective_values(spec, [o.values for o in labelled], [o.candidate.composition for o in labelled])
    order, _ = rank(spec, values)
    return [labelled[i] for i in order[:count]]
