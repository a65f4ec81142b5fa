"""Pretrained SevenNet (weights shipped in the ``sevenn`` wheel) through atomate2's force-field makers.

Only models whose checkpoint lies inside the wheel are offered: sevenn
downloads any other at first use, which fails without a network. The model
is loaded from its file in the package (never by name, which could fall back
to a download); the elements a stage may hold are the model's own
``chemical_species``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from ase.data import atomic_numbers
from pymatgen.core import Structure

from alloyscreen.validation.ase_runner import maker_options, run_ase_maker
from alloyscreen.validation.base import SettingsError, check_elements, check_structure, split_settings

# model name -> constant of ``sevenn._const`` holding its checkpoint path inside the wheel
SHIPPED_MODELS = {"7net-0": "SEVENNET_0_11Jul2024", "7net-l3i5": "SEVENNET_l3i5"}


@lru_cache(maxsize=8)
def _maker(mode: str, steps: int, fmax: float, optimizer: str, model: str):
    from atomate2.forcefields.jobs import ForceFieldRelaxMaker

    options = maker_options(mode, {"steps": steps, "fmax": fmax, "optimizer": optimizer})
    kwargs = {"model": _model(model), "file_type": "model_instance"}
    return ForceFieldRelaxMaker(force_field_name="SevenNet", calculator_kwargs=kwargs, **options)


@lru_cache(maxsize=2)
def _checkpoint(model: str):
    from sevenn import _const
    from sevenn.util import load_checkpoint

    path = Path(getattr(_const, SHIPPED_MODELS[model]))
    if not path.is_file():  # sevenn would download it: refuse instead
        raise SettingsError(f"sevennet model {model!r} is not in the installed sevenn wheel (no {path}); "
                            f"reinstall sevenn=={metadata.version('sevenn')}")
    return load_checkpoint(str(path))


@lru_cache(maxsize=2)
def _model(model: str):
    network = _checkpoint(model).build_model()
    network.set_is_batch_data(False)  # one structure per call, as the ASE calculator does
    return network


@lru_cache(maxsize=2)
def model_elements(model: str) -> tuple[str, ...]:
    """Return the elements ``model`` was trained on, by atomic number."""
    from sevenn import _keys

    return tuple(sorted(_checkpoint(model).config[_keys.CHEMICAL_SPECIES], key=atomic_numbers.__getitem__))


class SevenNetCalculator:
    """SevenNet universal potential 7net-0 (MPtrj-trained, PBE/PBE+U-like energies), relax or static."""

    name = "sevennet"
    category = "cheap"
    universal = True
    cell_atoms = (32, 256)  # atoms of automatic bulk cells (min, max): SQS of 32+
    defaults: dict[str, Any] = {"fmax": 0.05, "steps": 500, "optimizer": "FIRE", "model": "7net-0"}
    run_defaults: dict[str, Any] = {}

    def resolve_pool(self, elements: list[str], settings: dict[str, Any]) -> dict[str, Any]:
        """Check the settings and that the model was trained on every element of the pool."""
        physics, _ = split_settings(self.name, self.defaults, self.run_defaults, settings)
        if physics["model"] not in SHIPPED_MODELS:
            raise SettingsError(f"sevennet model {physics['model']!r} is not shipped in the sevenn wheel (others "
                                f"download at run time); allowed: {', '.join(SHIPPED_MODELS)}")
        check_elements(elements, model_elements(physics["model"]), self.name)
        return settings

    def resolve(self, structure: Structure, settings: dict[str, Any], mode: str) -> tuple[dict, dict]:
        """Check ``structure`` and return (physics settings with mode, run settings)."""
        self.resolve_pool([el.symbol for el in structure.composition], settings)
        check_structure(structure)
        physics, run = split_settings(self.name, self.defaults, self.run_defaults, settings)
        return {**physics, "mode": mode}, run

    def spin_polarised(self, settings: dict[str, Any]) -> bool:
        """Whether calculations start from given magnetic moments: no, SevenNet has no spin."""
        return False

    def code_version(self, physics: dict[str, Any], run: dict[str, Any] | None = None) -> str:
        """Return the sevenn package and model versions."""
        return f"sevenn-{metadata.version('sevenn')}-model-{physics['model']}"

    def run(self, structure: Structure, physics: dict[str, Any], run: dict[str, Any], directory) -> dict[str, Any]:
        """Relax (or evaluate) ``structure`` with SevenNet; return calculation-document fields."""
        import torch

        key = (physics["mode"], int(physics["steps"]), float(physics["fmax"]), physics["optimizer"], physics["model"])
        return run_ase_maker(_maker(*key), structure, n_cores=torch.get_num_threads())
