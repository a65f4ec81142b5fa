"""Pretrained CHGNet (weights shipped in the ``chgnet`` wheel) through atomate2's force-field makers."""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata
from typing import Any

from pymatgen.core import Element, Structure

from alloyscreen.validation.ase_runner import maker_options, run_ase_maker
from alloyscreen.validation.base import StructureError, check_structure, split_settings

CHGNET_MAX_Z = 94


@lru_cache(maxsize=8)
def _maker(mode: str, steps: int, fmax: float, optimizer: str, model: str):
    from atomate2.forcefields.jobs import ForceFieldRelaxMaker

    options = maker_options(mode, {"steps": steps, "fmax": fmax, "optimizer": optimizer})
    return ForceFieldRelaxMaker(force_field_name="CHGNet", calculator_kwargs={"model": _model(model)}, **options)


@lru_cache(maxsize=2)
def _model(version: str):
    from chgnet.model import CHGNet

    return CHGNet.load(model_name=version, verbose=False)


class CHGNetCalculator:
    """CHGNet universal potential (MPtrj-trained, PBE/PBE+U-like energies), relax or static."""

    name = "chgnet"
    category = "cheap"
    universal = True
    cell_atoms = (32, 256)  # atoms of automatic bulk cells (min, max): SQS of 32+
    defaults: dict[str, Any] = {"fmax": 0.05, "steps": 500, "optimizer": "FIRE", "model": "0.3.0"}
    run_defaults: dict[str, Any] = {}

    def resolve_pool(self, elements: list[str], settings: dict[str, Any]) -> dict[str, Any]:
        """Check the pool's elements and the settings; CHGNet has nothing element-dependent to fix."""
        beyond = sorted(el for el in elements if Element(el).Z > CHGNET_MAX_Z)
        if beyond:
            raise StructureError(f"chgnet cannot treat element(s) {beyond}; allowed: elements up to Pu (Z=94)")
        split_settings(self.name, self.defaults, self.run_defaults, settings)
        return settings

    def resolve(self, structure: Structure, settings: dict[str, Any], mode: str) -> tuple[dict, dict]:
        """Check ``structure`` and return (physics settings with mode, run settings)."""
        self.resolve_pool([el.symbol for el in structure.composition], settings)
        check_structure(structure)
        physics, run = split_settings(self.name, self.defaults, self.run_defaults, settings)
        return {**physics, "mode": mode}, run

    def spin_polarised(self, settings: dict[str, Any]) -> bool:
        """Whether calculations start from given magnetic moments: no, CHGNet predicts moments."""
        return False

    def code_version(self, physics: dict[str, Any], run: dict[str, Any] | None = None) -> str:
        """Return the chgnet package and model versions."""
        return f"chgnet-{metadata.version('chgnet')}-model-{physics['model']}"

    def run(self, structure: Structure, physics: dict[str, Any], run: dict[str, Any], directory) -> dict[str, Any]:
        """Relax (or evaluate) ``structure`` with CHGNet; return calculation-document fields."""
        import torch

        key = (physics["mode"], int(physics["steps"]), float(physics["fmax"]), physics["optimizer"], physics["model"])
        return run_ase_maker(_maker(*key), structure, n_cores=torch.get_num_threads())
