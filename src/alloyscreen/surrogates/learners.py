"""Base learners of the tree ensembles: how to build, predict with and (de)serialise each library.

One small registry entry per library replaces one ensemble class per library. The
libraries are imported when a learner is used, not when this module is imported.
Models are stored in each library's native format (XGBoost UBJSON, CatBoost ``cbm``),
so loading reproduces predictions bit for bit.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from alloyscreen.errors import AlloyscreenError


@dataclass(frozen=True)
class BaseLearner:
    """How an ensemble drives one regression library.

    Attributes
    ----------
    name
        Registry name (``"xgboost"``, ``"catboost"``).
    defaults
        Hyperparameters used unless the ensemble's ``learner_params`` override them;
        chosen for small label sets (tens of points) and fast scoring.
    build
        ``build(params, seed, n_jobs) -> estimator`` (unfitted).
    predict
        ``predict(estimator, data, n_jobs) -> (n,)`` array; ``data`` comes from ``prepare``.
    dump, load
        Native serialisation to and from bytes.
    file_suffix
        Suffix of a member's file inside the ensemble archive.
    virtual_members
        ``virtual_members(estimator, data, count, n_jobs) -> (count, n)`` array, or None.
    prepare
        ``prepare(X, n_jobs) -> data``: the library's input for a scoring matrix, built once
        and shared by the members (CatBoost: one ``Pool``).
    fits_in_threads
        Whether members may be fitted side by side in threads of one process
        (CatBoost's logging is process-wide: its members are fitted one at a time).
    """

    name: str
    defaults: dict[str, Any]
    build: Callable[[dict[str, Any], int, int], Any]
    predict: Callable[[Any, Any, int], np.ndarray]
    dump: Callable[[Any], bytes]
    load: Callable[[bytes], Any]
    file_suffix: str
    virtual_members: Callable[[Any, Any, int, int], np.ndarray] | None = None
    prepare: Callable[[np.ndarray, int], Any] = lambda X, n_jobs: X  # the array itself (XGBoost)
    fits_in_threads: bool = True


def _xgb_build(params: dict[str, Any], seed: int, n_jobs: int):
    import xgboost

    return xgboost.XGBRegressor(**params, random_state=seed, n_jobs=n_jobs)


def _xgb_predict(model, X: np.ndarray, n_jobs: int) -> np.ndarray:
    model.set_params(n_jobs=n_jobs)
    return model.predict(X)


def _xgb_dump(model) -> bytes:
    return bytes(model.get_booster().save_raw(raw_format="ubj"))


def _xgb_load(blob: bytes):
    import xgboost

    model = xgboost.XGBRegressor()
    model.load_model(bytearray(blob))
    return model


def _cat_build(params: dict[str, Any], seed: int, n_jobs: int):
    import catboost

    return catboost.CatBoostRegressor(
        **params, random_seed=seed, thread_count=n_jobs, verbose=0, allow_writing_files=False
    )


def _cat_pool(X: np.ndarray, n_jobs: int):
    """The ``Pool`` CatBoost would build from ``X`` in every member's predict call (no categorical columns)."""
    import catboost

    return catboost.Pool(X, thread_count=n_jobs)


def _cat_predict(model, pool, n_jobs: int) -> np.ndarray:
    return model.predict(pool, thread_count=n_jobs)


def _cat_virtual_members(model, pool, count: int, n_jobs: int) -> np.ndarray:
    """Return CatBoost's virtual-ensemble predictions, shape ``(count, n)``."""
    raw = model.virtual_ensembles_predict(
        pool, prediction_type="VirtEnsembles", virtual_ensembles_count=count, thread_count=n_jobs
    )
    return np.asarray(raw)[:, :, 0].T


def _cat_dump(model) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "member.cbm")
        model.save_model(path, format="cbm")
        with open(path, "rb") as handle:
            return handle.read()


def _cat_load(blob: bytes):
    import catboost

    model = catboost.CatBoostRegressor()
    model.load_model(blob=blob)
    return model


LEARNERS: dict[str, BaseLearner] = {
    "xgboost": BaseLearner(
        name="xgboost",
        defaults={
            "n_estimators": 150,
            "max_depth": 4,
            "learning_rate": 0.05,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "min_child_weight": 1.0,
            "reg_lambda": 1.0,
            "tree_method": "hist",
        },
        build=_xgb_build,
        predict=_xgb_predict,
        dump=_xgb_dump,
        load=_xgb_load,
        file_suffix="ubj",
    ),
    "catboost": BaseLearner(
        name="catboost",
        defaults={"iterations": 300, "depth": 4, "learning_rate": 0.05, "l2_leaf_reg": 3.0},
        build=_cat_build,
        predict=_cat_predict,
        dump=_cat_dump,
        load=_cat_load,
        file_suffix="cbm",
        virtual_members=_cat_virtual_members,
        prepare=_cat_pool,
        fits_in_threads=False,
    ),
}


def get_learner(name: str) -> BaseLearner:
    """Return the registered base learner ``name``.

    Raises
    ------
    AlloyscreenError
        If ``name`` is not registered; the message lists the allowed names.
    """
    try:
        return LEARNERS[name]
    except KeyError:
        raise AlloyscreenError(f"unknown surrogate learner {name!r}; allowed: {', '.join(sorted(LEARNERS))}") from None
