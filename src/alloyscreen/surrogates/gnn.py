"""A matgl graph network trained on a campaign's own structure labels (energy per atom).

matgl (and torch, lightning) are imported inside the methods that need them:
importing matgl is slow. Training uses matgl's ``ModelLightningModule`` with a
lightning ``Trainer``; models are saved with matgl's own ``save`` / ``load_model``
plus ``alloyscreen.json`` (target normalisation, Δ-learning flag, parameters).

Δ-learning: ``fit(structures, y, baseline=b)`` learns ``y - b`` (e.g. DFT minus
CHGNet energies per atom, the CHGNet values coming from the validation stage);
``predict(structures, baseline=b)`` then returns ``b + model``.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.ensemble import ARCHIVE_DATE, MIN_LABELS, TooFewLabelsError

ARCHITECTURES: dict[str, dict[str, Any]] = {
    "megnet": {
        "dim_node_embedding": 16,
        "dim_edge_embedding": 32,
        "dim_state_embedding": 2,
        "nblocks": 2,
        "hidden_layer_sizes_input": (32, 16),
        "hidden_layer_sizes_conv": (32, 32, 16),
        "hidden_layer_sizes_output": (16, 8),
        "niters_set2set": 2,
        "nlayers_set2set": 1,
    },
    "m3gnet": {"dim_node_embedding": 16, "dim_edge_embedding": 16, "units": 16, "nblocks": 2},
    "tensornet": {"units": 16, "nblocks": 1},
}
"""Small default sizes per architecture (fast on CPU); override with ``model_params``."""

_CLASS_NAMES = {"megnet": "MEGNet", "m3gnet": "M3GNet", "tensornet": "TensorNet"}
_META_FILE = "alloyscreen.json"


def _as_array(values, n: int, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    if array.shape[0] != n:
        raise AlloyscreenError(f"{what} has {array.shape[0]} values for {n} structures")
    return array


class MatglRegressor(RegressorMixin, BaseEstimator):
    """Graph-network regressor of energy per atom (eV/atom) from pymatgen Structures.

    Parameters
    ----------
    architecture
        ``"megnet"``, ``"m3gnet"`` or ``"tensornet"``.
    model_params
        Constructor arguments of the matgl model, overriding :data:`ARCHITECTURES`.
    cutoff
        Graph cutoff radius (Å).
    max_epochs, batch_size, lr
        Training length, structures per batch and Adam learning rate.
    random_state
        Seed of weights initialisation and batch shuffling.
    accelerator
        Lightning accelerator: ``"cpu"``, ``"gpu"`` or ``"auto"``.
    element_types
        Elements the model accepts (e.g. all elements of the campaign); by default
        those of the training structures.
    """

    def __init__(
        self,
        architecture: str = "megnet",
        model_params: dict[str, Any] | None = None,
        cutoff: float = 4.0,
        max_epochs: int = 20,
        batch_size: int = 8,
        lr: float = 1e-3,
        random_state: int = 0,
        accelerator: str = "cpu",
        element_types: tuple[str, ...] | None = None,
    ):
        self.architecture = architecture
        self.model_params = model_params
        self.cutoff = cutoff
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state
        self.accelerator = accelerator
        self.element_types = element_types

    def _build_model(self, element_types: tuple[str, ...]):
        if self.architecture not in ARCHITECTURES:
            raise AlloyscreenError(
                f"unknown matgl architecture {self.architecture!r}; allowed: {', '.join(sorted(ARCHITECTURES))}"
            )
        import matgl.models

        cls = getattr(matgl.models, _CLASS_NAMES[self.architecture])
        params = {**ARCHITECTURES[self.architecture], **(self.model_params or {})}
        return cls(element_types=element_types, cutoff=self.cutoff, **params)

    def fit(self, structures, y, baseline=None) -> MatglRegressor:
        """Train on ``structures`` and energies per atom ``y`` (minus ``baseline`` if given)."""
        structures = list(structures)
        n = len(structures)
        y = _as_array(y, n, "y")
        if n < MIN_LABELS:
            raise TooFewLabelsError(f"training a matgl model needs at least {MIN_LABELS} labels, got {n}")
        target = y - _as_array(baseline, n, "baseline") if baseline is not None else y
        if not np.all(np.isfinite(target)):
            raise AlloyscreenError("labels (or baseline) contain NaN or infinite values")

        import lightning
        from matgl.ext.pymatgen import Structure2Graph, get_element_list
        from matgl.graph.data import MGLDataLoader, MGLDataset, collate_fn_graph
        from matgl.utils.training import ModelLightningModule
        from pymatgen.core import Element

        lightning.seed_everything(self.random_state, workers=True, verbose=False)
        elements = set(get_element_list(structures)) | set(self.element_types or ())
        element_types = tuple(sorted(elements, key=lambda symbol: Element(symbol).Z))
        model = self._build_model(element_types)
        mean, std = float(target.mean()), float(target.std()) or 1.0
        with tempfile.TemporaryDirectory() as tmp:
            dataset = MGLDataset(
                structures=structures,
                converter=Structure2Graph(element_types=element_types, cutoff=self.cutoff),
                labels={"target": target.tolist()},
                root=tmp,
                save_cache=False,
            )
            train_loader, _ = MGLDataLoader(
                train_data=dataset,
                val_data=dataset,
                collate_fn=collate_fn_graph,
                batch_size=self.batch_size,
                num_workers=0,
            )
            module = ModelLightningModule(model=model, data_mean=mean, data_std=std, lr=self.lr)
            trainer = lightning.Trainer(
                max_epochs=self.max_epochs,
                accelerator=self.accelerator,
                devices=1,
                default_root_dir=tmp,
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
                limit_val_batches=0,
            )
            trainer.fit(module, train_dataloaders=train_loader)
        self.model_ = model.cpu().eval()
        self.element_types_ = element_types
        self.target_mean_, self.target_std_ = mean, std
        self.delta_ = baseline is not None
        self.n_train_ = n
        return self

    def predict(self, structures, baseline=None) -> np.ndarray:
        """Return energies per atom (eV/atom); Δ-models need the same ``baseline`` kind as in ``fit``."""
        if not hasattr(self, "model_"):
            raise AlloyscreenError("this MatglRegressor is not fitted; call fit(structures, y) first")
        structures = list(structures)
        if self.delta_ and baseline is None:
            raise AlloyscreenError("this model was trained on y - baseline (Δ-learning); pass baseline=")
        unknown = {el.symbol for s in structures for el in s.composition} - set(self.element_types_)
        if unknown:
            raise AlloyscreenError(
                f"elements {sorted(unknown)} are unknown to this model; allowed: {list(self.element_types_)}"
            )
        import torch

        with torch.no_grad():
            raw = np.array([float(self.model_.predict_structure(s).reshape(-1)[0]) for s in structures])
        values = raw * self.target_std_ + self.target_mean_
        if baseline is not None:
            values = values + _as_array(baseline, len(structures), "baseline")
        return values

    def save(self, path: str | Path) -> Path:
        """Save with matgl's ``save`` (model.pt, state.pt, model.json) plus ``alloyscreen.json``."""
        if not hasattr(self, "model_"):
            raise AlloyscreenError("this MatglRegressor is not fitted; nothing to save")
        path = Path(path)
        self.model_.save(path)
        meta = {
            "params": self.get_params(),
            "element_types": list(self.element_types_),
            "target_mean": self.target_mean_,
            "target_std": self.target_std_,
            "delta": self.delta_,
            "n_train": self.n_train_,
        }
        (path / _META_FILE).write_text(json.dumps(meta, sort_keys=True))
        return path

    @classmethod
    def load(cls, path: str | Path) -> MatglRegressor:
        """Load a model written by :meth:`save` (matgl ``load_model``)."""
        import matgl

        path = Path(path)
        meta_file = path / _META_FILE
        if not meta_file.exists():
            raise AlloyscreenError(f"{path} has no {_META_FILE}; not a model saved by MatglRegressor.save")
        meta = json.loads(meta_file.read_text())
        model = cls(**meta["params"])
        model.model_ = matgl.load_model(path).eval()
        model.element_types_ = tuple(meta["element_types"])
        model.target_mean_, model.target_std_ = meta["target_mean"], meta["target_std"]
        model.delta_ = meta["delta"]
        model.n_train_ = meta["n_train"]
        return model

    def to_bytes(self) -> bytes:
        """Return the saved model directory as a zip archive with fixed timestamps (for GridFS)."""
        buffer = io.BytesIO()
        with tempfile.TemporaryDirectory() as tmp:
            self.save(tmp)
            with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for file in sorted(Path(tmp).iterdir()):
                    info = zipfile.ZipInfo(file.name, ARCHIVE_DATE)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, file.read_bytes())
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> MatglRegressor:
        """Rebuild a model from :meth:`to_bytes` output."""
        with tempfile.TemporaryDirectory() as tmp:
            try:
                zipfile.ZipFile(io.BytesIO(blob)).extractall(tmp)
            except zipfile.BadZipFile as exc:
                raise AlloyscreenError(f"bytes are not a serialised MatglRegressor ({exc})") from None
            return cls.load(tmp)


class GnnEnsemble(RegressorMixin, BaseEstimator):
    """A few :class:`MatglRegressor` networks differing in their seed: mean and spread of their predictions.

    Parameters
    ----------
    architecture, max_epochs, batch_size, lr, accelerator, element_types
        As for :class:`MatglRegressor` (every member alike).
    n_members
        Networks in the ensemble (seeds ``random_state``, ``random_state + 1``, ...).
    random_state
        Seed of the first member.
    std_scale
        Factor on the members' standard deviation (a calibration fitted elsewhere).
    """

    def __init__(self, architecture: str = "megnet", n_members: int = 3, max_epochs: int = 20, batch_size: int = 8,
                 lr: float = 1e-3, random_state: int = 0, accelerator: str = "cpu",
                 element_types: tuple[str, ...] | None = None, std_scale: float = 1.0):
        self.architecture = architecture
        self.n_members = n_members
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state
        self.accelerator = accelerator
        self.element_types = element_types
        self.std_scale = std_scale

    def fit(self, structures, y) -> GnnEnsemble:
        """Train every member on ``structures`` and energies per atom ``y``."""
        structures = list(structures)
        options = {k: v for k, v in self.get_params().items() if k not in ("n_members", "random_state", "std_scale")}
        self.members_ = [MatglRegressor(random_state=self.random_state + k, **options).fit(structures, y)
                         for k in range(self.n_members)]
        return self

    def predict_moments(self, structures) -> tuple[np.ndarray, np.ndarray]:
        """Mean of the members and their standard deviation times ``std_scale`` (eV/atom)."""
        if not hasattr(self, "members_"):
            raise AlloyscreenError("this GnnEnsemble is not fitted; call fit(structures, y) first")
        structures = list(structures)
        predictions = np.array([member.predict(structures) for member in self.members_])
        return predictions.mean(axis=0), self.std_scale * predictions.std(axis=0, ddof=1)

    def predict(self, structures) -> np.ndarray:
        """Mean of the members (eV/atom)."""
        return self.predict_moments(structures)[0]

    def to_bytes(self) -> bytes:
        """A zip of the parameters (JSON) and each member's :meth:`MatglRegressor.to_bytes` archive."""
        if not hasattr(self, "members_"):
            raise AlloyscreenError("this GnnEnsemble is not fitted; nothing to save")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(zipfile.ZipInfo("ensemble.json", ARCHIVE_DATE), json.dumps(self.get_params()))
            for k, member in enumerate(self.members_):
                archive.writestr(zipfile.ZipInfo(f"member-{k}.zip", ARCHIVE_DATE), member.to_bytes())
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> GnnEnsemble:
        """Rebuild an ensemble written by :meth:`to_bytes`."""
        try:
            archive = zipfile.ZipFile(io.BytesIO(blob))
            params = json.loads(archive.read("ensemble.json"))
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise AlloyscreenError(f"bytes are not a serialised GnnEnsemble ({exc})") from None
        model = cls(**{**params, "element_types": tuple(params["element_types"] or ()) or None})
        model.members_ = [MatglRegressor.from_bytes(archive.read(f"member-{k}.zip")) for k in range(model.n_members)]
        return model
