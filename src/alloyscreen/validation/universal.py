"""What every pretrained universal potential shares: relax or static through atomate2's makers, batched statics.

A subclass names its package (its version enters the code version), its
defaults, how it checks a pool, and two hooks: ``maker`` (atomate2's
``ForceFieldRelaxMaker`` for a mode and settings) and ``predict`` (energies,
forces and stress of structures, ``batch_size`` per model call).
"""

from __future__ import annotations

from functools import partial
from importlib import metadata
from typing import Any

from pymatgen.core import Structure

from alloyscreen.validation.ase_runner import ase_retry, run_ase_maker, run_static_batch
from alloyscreen.validation.base import Calculator, check_structure, split_settings


class UniversalPotential(Calculator):
    """A pretrained potential (MPtrj-like PBE/PBE+U energies): relax or static, no starting magnetic moments."""

    name = ""
    package = ""
    universal = True
    batched = True
    cell_atoms = (32, 256)  # atoms of automatic bulk cells (min, max): SQS of 32+
    defaults = {}
    run_defaults = {}
    retry = staticmethod(ase_retry)  # a relaxation stopped before its fmax runs again corrected

    @staticmethod
    def maker(mode: str, steps: int, fmax: float, optimizer: str, model: str):
        """atomate2's Maker of a calculation in ``mode`` (overridden)."""
        raise NotImplementedError

    @staticmethod
    def predict(model: str, structures: list[Structure], batch_size: int) -> list[dict[str, Any]]:
        """Energy, forces and stress of ``structures`` (overridden)."""
        raise NotImplementedError

    def resolve_pool(self, elements: list[str], settings: dict[str, Any]) -> dict[str, Any]:
        """Check the settings (subclasses: also the pool's elements)."""
        split_settings(self.name, self.defaults, self.run_defaults, settings)
        return settings

    def resolve(self, structure: Structure, settings: dict[str, Any], mode: str) -> tuple[dict, dict]:
        """Check ``structure`` and return (physics settings with mode, run settings)."""
        self.resolve_pool([el.symbol for el in structure.composition], settings)
        check_structure(structure)
        physics, run = split_settings(self.name, self.defaults, self.run_defaults, settings)
        return {**physics, "mode": mode}, run

    def spin_polarised(self, settings: dict[str, Any]) -> bool:
        """Whether calculations start from given magnetic moments: no, the potential has none to start from."""
        return False

    def code_version(self, physics: dict[str, Any], run: dict[str, Any] | None = None) -> str:
        """Return the package and model versions."""
        return f"{self.package}-{metadata.version(self.package)}-model-{physics['model']}"

    def run(self, structure: Structure, physics: dict[str, Any], run: dict[str, Any], directory) -> dict[str, Any]:
        """Relax (or evaluate) ``structure``; return calculation-document fields."""
        import torch

        key = (physics["mode"], int(physics["steps"]), float(physics["fmax"]), physics["optimizer"], physics["model"])
        return run_ase_maker(self.maker(*key), structure, n_cores=torch.get_num_threads())

    def predict_batch(self, structures: list[Structure], physics: dict[str, Any],
                      batch_size: int | None = None) -> list[dict[str, Any]]:
        """Static calculation-document fields of each of ``structures``, the model called ``batch_size`` at a time.

        See :func:`~alloyscreen.validation.ase_runner.run_static_batch` (default batch size: 32 on a GPU, 1 on CPU).
        """
        return run_static_batch(partial(self.predict, physics["model"]), structures, batch_size)
