"""Tables of a campaign's model selection and descriptor importance, round by round (for the report).

Input: the ``models`` documents of the campaign's tree surrogates with the round
each first scored, as rows of ``round``, ``kind``, ``n_labels``, ``selection`` and
``importances`` (the stored dicts of :class:`~alloyscreen.schemas.model.ModelSelection`
and :class:`~alloyscreen.schemas.model.FeatureImportances`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alloyscreen.surrogates.crossval import Candidate


def _label(learner: str, params: dict[str, Any]) -> str:
    return Candidate(learner, params).label


def selection_table(models: pd.DataFrame) -> pd.DataFrame:
    """One row per round: the learner trained, how it was chosen, and each candidate's CV error when CV chose."""
    rows = []
    for model in models.itertuples(index=False):
        selection: dict[str, Any] | None = model.selection if isinstance(model.selection, dict) else None
        learner = model.kind.removeprefix("ensemble-")
        row: dict[str, Any] = {"round": model.round, "labels": model.n_labels}
        if selection is None:
            row.update({"learner": learner, "chosen": "only candidate" if model.n_labels else "-"})
        else:
            row.update({"learner": _label(selection["learner"], selection["params"]),
                        "chosen": (f"CV on these {selection['n_labels']} labels" if selection["fresh"]
                                   else f"kept from {selection['n_labels']} labels"),
                        "metric": f"CV {selection['metric'].upper()}"})
            for candidate in selection["candidates"]:
                row[_label(candidate["learner"], candidate["params"])] = candidate[selection["metric"]]
        rows.append(row)
    table = pd.DataFrame(rows)
    if "metric" in table:
        table["metric"] = table["metric"].fillna("-")
    return table


def importance_table(models: pd.DataFrame, kind: str, top: int = 10) -> pd.DataFrame:
    """Descriptors (rows) by round (columns) for importance ``kind`` (``gain`` or ``permutation``).

    Rows: the descriptors of the rounds' stored top lists, ordered by the last
    round's value (then by the earlier rounds'), at most ``2 * top`` of them; the
    cell of a round where the descriptor was outside the stored top list is NaN.
    Empty when no model stores it.
    """
    columns: dict[str, dict[str, float]] = {}
    for model in models.itertuples(index=False):
        stored = model.importances if isinstance(model.importances, dict) else None
        if stored and stored.get(kind):
            columns[f"round {model.round}"] = {entry["descriptor"]: entry["value"] for entry in stored[kind]}
    if not columns:
        return pd.DataFrame()
    table = pd.DataFrame(columns)
    order = table[table.columns[::-1]].fillna(-np.inf).sort_values(list(table.columns[::-1]), ascending=False).index
    table = table.reindex(order[:top * 2])
    return table.rename_axis("descriptor").reset_index()
