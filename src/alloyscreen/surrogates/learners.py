"""Base learners of the tree ensembles: how to build, predict with and (de)serialise each library.

One small registry entry per library replaces one ensemble class per library. The
libraries are imported when a learner is used, not when this module is imported.
Models are stored in each library's native format (XGBoost UBJSON, CatBoost ``cbm``;
scikit-learn's random forest as a pickle, scikit-learn's own persistence, read back
by an unpickler that admits only scikit-learn and numpy classes), so loading
reproduces predictions bit for bit.

``random_forest`` (scikit-learn's ``RandomForestRegressor``) gives its spread from
its trees: every tree of every member is one member of the ensemble's prediction
(the per-tree spread of a random forest), so the ensemble's mean/std contract,
calibration and Thompson sampling treat it as they treat the boosted members.
"""

from __future__ import annotations

import inspect
import io
import os
import pickle
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
    parameters
        ``parameters() -> names`` of the hyperparameters the library's estimator takes
        (those the ensemble sets itself, seeds and threads, left out): what a grid may search.
    gain
        ``gain(estimator, n_features) -> (n_features,)`` the library's own split importance,
        normalised to sum 1 (zeros when no tree split): XGBoost total gain, CatBoost
        PredictionValuesChange, random forest mean decrease of impurity.
    tree_members
        ``tree_members(estimator, data) -> (n_trees, n)`` per-tree predictions standing for the
        member's one prediction (a random forest's spread), or None.
    """

    name: str
    defaults: dict[str, Any]
    build: Callable[[dict[str, Any], int, int], Any]
    predict: Callable[[Any, Any, int], np.ndarray]
    dump: Callable[[Any], bytes]
    load: Callable[[bytes], Any]
    file_suffix: str
    virtual_members: Callable[[Any, Any, int, int], np.ndarray] | None = None
    parameters: Callable[[], frozenset[str]] = frozenset
    gain: Callable[[Any, int], np.ndarray] = lambda estimator, n_features: np.zeros(n_features)
    prepare: Callable[[np.ndarray, int], Any] = lambda X, n_jobs: X  # the array itself (XGBoost)
    fits_in_threads: bool = True
    tree_members: Callable[[Any, Any], np.ndarray] | None = None


def _normalised(values: np.ndarray) -> np.ndarray:
    """``values`` (non-negative) divided by their sum; zeros when they sum to zero."""
    values = np.clip(np.nan_to_num(np.asarray(values, dtype=float)), 0.0, None)
    total = values.sum()
    return values / total if total > 0 else values


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


def _xgb_parameters() -> frozenset[str]:
    import xgboost

    return frozenset(xgboost.XGBRegressor().get_params()) - {"random_state", "n_jobs"}


def _xgb_gain(model, n_features: int) -> np.ndarray:
    """Total gain of the splits on each column (XGBoost names numpy columns ``f0``, ``f1``, ...)."""
    scores = model.get_booster().get_score(importance_type="total_gain")
    gain = np.zeros(n_features)
    for name, value in scores.items():
        gain[int(name.removeprefix("f"))] = value
    return _normalised(gain)


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


_CAT_SET_HERE = {"self", "random_seed", "random_state", "thread_count", "verbose", "silent", "logging_level",
                 "allow_writing_files", "posterior_sampling", "train_dir"}


def _cat_parameters() -> frozenset[str]:
    import catboost

    return frozenset(inspect.signature(catboost.CatBoostRegressor.__init__).parameters) - _CAT_SET_HERE


def _cat_gain(model, n_features: int) -> np.ndarray:
    """CatBoost's PredictionValuesChange: how much the prediction moves when the column's splits change."""
    return _normalised(model.get_feature_importance())


def _forest_build(params: dict[str, Any], seed: int, n_jobs: int):
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(**params, random_state=seed, n_jobs=n_jobs)


def _forest_prepare(X: np.ndarray, n_jobs: int) -> np.ndarray:
    """The float32 C-ordered matrix scikit-learn's trees read (converted once for every tree)."""
    return np.ascontiguousarray(X, dtype=np.float32)


def _forest_trees(model, X32: np.ndarray) -> np.ndarray:
    """Every tree's prediction, shape ``(n_trees, n)``; their mean is the forest's prediction."""
    return np.stack([tree.predict(X32, check_input=False) for tree in model.estimators_])


def _forest_predict(model, X32: np.ndarray, n_jobs: int) -> np.ndarray:
    return _forest_trees(model, X32).mean(axis=0)


class _SklearnUnpickler(pickle.Unpickler):
    """Rebuilds scikit-learn estimators and numpy arrays only: any other class in the bytes is refused."""

    def find_class(self, module: str, name: str):
        if module.split(".")[0] in ("sklearn", "numpy"):
            return super().find_class(module, name)
        raise AlloyscreenError(f"a stored random-forest member names {module}.{name}; allowed: scikit-learn and "
                               "numpy classes only")


def _forest_dump(model) -> bytes:
    return pickle.dumps(model, protocol=5)


def _forest_load(blob: bytes):
    return _SklearnUnpickler(io.BytesIO(blob)).load()


def _forest_parameters() -> frozenset[str]:
    from sklearn.ensemble import RandomForestRegressor

    return frozenset(RandomForestRegressor().get_params()) - {"random_state", "n_jobs", "verbose", "warm_start"}


def _forest_gain(model, n_features: int) -> np.ndarray:
    """Mean decrease of impurity (squared error) over the forest's trees."""
    return _normalised(model.feature_importances_)


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
        parameters=_xgb_parameters,
        gain=_xgb_gain,
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
        parameters=_cat_parameters,
        gain=_cat_gain,
    ),
    "random_forest": BaseLearner(
        name="random_forest",
        # Breiman's p/3 columns per split for regression; 50 trees per member (5 members: 250 trees in the spread)
        defaults={"n_estimators": 50, "max_features": 0.33, "min_samples_leaf": 1},
        build=_forest_build,
        predict=_forest_predict,
        dump=_forest_dump,
        load=_forest_load,
        file_suffix="pkl",
        parameters=_forest_parameters,
        gain=_forest_gain,
        prepare=_forest_prepare,
        tree_members=_forest_trees,
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
