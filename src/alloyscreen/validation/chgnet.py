"""Pretrained CHGNet (weights shipped in the ``chgnet`` wheel) through atomate2's force-field makers.

Static calculations of many structures can also run together, without the
maker (:meth:`CHGNetCalculator.predict_batch`: batched model calls on a GPU),
giving the same fields.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pymatgen.core import Element, Structure

from alloyscreen.validation.ase_runner import maker_options
from alloyscreen.validation.base import StructureError
from alloyscreen.validation.universal import UniversalPotential

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


def _predict(model: str, structures: list[Structure], batch_size: int) -> list[dict[str, Any]]:
    """Energy, forces, stress and moments of ``structures`` in batches, in the units of CHGNet's ASE calculator."""
    from ase import units

    network = _model(model)
    predictions = network.predict_structure(structures, task="efsm", batch_size=batch_size)
    predictions = [predictions] if isinstance(predictions, dict) else predictions
    return [{"energy": found["e"] * (len(structure) if network.is_intensive else 1), "forces": found["f"],
             "stress": found["s"] * units.GPa, "magmoms": found["m"]}
            for structure, found in zip(structures, predictions, strict=True)]


class CHGNetCalculator(UniversalPotential):
    """CHGNet universal potential (MPtrj-trained, PBE/PBE+U-like energies), relax or static."""

    name = package = "chgnet"
    defaults = {"fmax": 0.05, "steps": 500, "optimizer": "FIRE", "model": "0.3.0"}
    maker = staticmethod(_maker)
    predict = staticmethod(_predict)

    def resolve_pool(self, elements: list[str], settings: dict[str, Any]) -> dict[str, Any]:
        """Check the pool's elements and the settings; CHGNet has nothing element-dependent to fix."""
        beyond = sorted(el for el in elements if Element(el).Z > CHGNET_MAX_Z)
        if beyond:
            raise StructureError(f"chgnet cannot treat element(s) {beyond}; allowed: elements up to Pu (Z=94)")
        return super().resolve_pool(elements, settings)
