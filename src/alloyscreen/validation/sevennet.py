"""Pretrained SevenNet (weights shipped in the ``sevenn`` wheel) through atomate2's force-field makers.

Only models whose checkpoint lies inside the wheel are offered: sevenn
downloads any other at first use, which fails without a network. The model
is loaded from its file in the package (never by name, which could fall back
to a download); the elements a stage may hold are the model's own
``chemical_species``. Static calculations of many structures can also run
together, without the maker (:meth:`SevenNetCalculator.predict_batch`: batched
model calls on a GPU, as sevenn's own ``inference`` batches), giving the same
fields.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from ase.data import atomic_numbers
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from alloyscreen.validation.ase_runner import maker_options
from alloyscreen.validation.base import SettingsError, check_elements, split_settings
from alloyscreen.validation.universal import UniversalPotential

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


@lru_cache(maxsize=4)
def _model(model: str, batched: bool = False):
    import torch

    network = _checkpoint(model).build_model()
    network.set_is_batch_data(batched)  # False: one structure per call, as the ASE calculator does
    if batched:  # on the device the ASE calculator would choose
        network.to("cuda" if torch.cuda.is_available() else "cpu").eval()
    return network


def _predict(model: str, structures: list[Structure], batch_size: int) -> list[dict[str, Any]]:
    """Energy, forces and stress of ``structures`` in batches, in the units of SevenNet's ASE calculator."""
    from sevenn import _keys
    from sevenn.atom_graph_data import AtomGraphData
    from sevenn.train.dataload import unlabeled_atoms_to_graph
    from sevenn.util import to_atom_graph_list
    from torch_geometric.data import Batch

    network = _model(model, batched=True)
    device = next(network.parameters()).device
    graphs = [AtomGraphData.from_numpy_dict(unlabeled_atoms_to_graph(AseAtomsAdaptor.get_atoms(structure),
                                                                     network.cutoff, with_shift=False))
              for structure in structures]
    results = []
    for start in range(0, len(graphs), batch_size):
        output = network(Batch.from_data_list(graphs[start:start + batch_size]).to(device))
        for graph in to_atom_graph_list(output.detach().cpu()):
            results.append({"energy": graph[_keys.PRED_TOTAL_ENERGY].item(), "forces": graph[_keys.PRED_FORCE].numpy(),
                            "stress": -graph[_keys.PRED_STRESS][0].numpy()[[0, 1, 2, 4, 5, 3]]})  # Voigt, ASE's sign
    return results


@lru_cache(maxsize=2)
def model_elements(model: str) -> tuple[str, ...]:
    """Return the elements ``model`` was trained on, by atomic number."""
    from sevenn import _keys

    return tuple(sorted(_checkpoint(model).config[_keys.CHEMICAL_SPECIES], key=atomic_numbers.__getitem__))


class SevenNetCalculator(UniversalPotential):
    """SevenNet universal potential 7net-0 (MPtrj-trained, PBE/PBE+U-like energies), relax or static."""

    name = "sevennet"
    package = "sevenn"
    defaults = {"fmax": 0.05, "steps": 500, "optimizer": "FIRE", "model": "7net-0"}
    maker = staticmethod(_maker)
    predict = staticmethod(_predict)

    def resolve_pool(self, elements: list[str], settings: dict[str, Any]) -> dict[str, Any]:
        """Check the settings and that the model was trained on every element of the pool."""
        physics, _ = split_settings(self.name, self.defaults, self.run_defaults, settings)
        if physics["model"] not in SHIPPED_MODELS:
            raise SettingsError(f"sevennet model {physics['model']!r} is not shipped in the sevenn wheel (others "
                                f"download at run time); allowed: {', '.join(SHIPPED_MODELS)}")
        check_elements(elements, model_elements(physics["model"]), self.name)
        return settings
