"""What every calculator shares: settings checks, structure checks, result fields, accounting.

A calculator is a small :class:`Calculator` subclass: what it can do is
declared as class attributes (never probed), with the methods
``resolve_pool`` (settings fixed for an element pool), ``resolve``,
``code_version`` and ``run``, and ``retry`` where a failed calculation runs
again with a correction (e.g. :func:`~alloyscreen.validation.ase_runner.ase_retry`).
The registry (:mod:`alloyscreen.validation.registry`) maps names to
calculators, and the spec's choices come from it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from monty.json import jsanitize
from pymatgen.core import Structure

from alloyscreen.errors import AlloyscreenError
from alloyscreen.slurm import allocated_cores

if TYPE_CHECKING:
    from alloyscreen.validation.ase_runner import Retry

Mode = Literal["static", "relax", "vc-relax"]
MODES = ("static", "relax", "vc-relax")
EV_PER_A3_TO_GPA = 160.21766208
MIN_DISTANCE = 0.5


class StructureError(AlloyscreenError):
    """The structure cannot be calculated (overlapping atoms, unsupported elements)."""


class SettingsError(AlloyscreenError):
    """A calculator setting is unknown or has a bad value."""


class Calculator:
    """What every calculator declares.

    ``name``: its registry name; ``category``: the FireWorks ``_category`` of
    its jobs; ``cell_atoms``: the atoms of automatic bulk cells (min, max);
    ``defaults``: settings that change the result and enter the calculation
    id; ``run_defaults``: how to run (command, cores), not in the id;
    ``remote``: runs only as a workflow on a cluster (VASP through atomate2),
    never in this process; ``universal``: a pretrained potential for every
    element (a campaign's ranker); ``subprocess``: a program run beside Python,
    several at once (:func:`concurrent_runs`); ``batched``: static
    calculations of many structures in one call (``predict_batch``);
    ``known_limits``: element -> evidence of what it is known to get wrong.
    """

    name: ClassVar[str] = ""
    category: ClassVar[str] = "cheap"
    cell_atoms: ClassVar[tuple[int, int]] = (1, 256)
    defaults: ClassVar[dict[str, Any]] = {}
    run_defaults: ClassVar[dict[str, Any]] = {}
    remote: ClassVar[bool] = False
    universal: ClassVar[bool] = False
    subprocess: ClassVar[bool] = False
    batched: ClassVar[bool] = False
    known_limits: ClassVar[dict[str, str]] = {}

    def resolve_pool(self, elements: list[str], settings: dict[str, Any]) -> dict[str, Any]:
        """The settings fixed for an element pool (pseudopotentials, cutoffs, spin); one line on bad ones."""
        raise NotImplementedError

    def resolve(self, structure: Structure, settings: dict[str, Any], mode: str) -> tuple[dict, dict]:
        """Check ``structure``; return (physics settings, which enter the id, run settings)."""
        raise NotImplementedError

    def spin_polarised(self, settings: dict[str, Any]) -> bool:
        """Whether calculations with ``settings`` are spin-polarised."""
        raise NotImplementedError

    def code_version(self, physics: dict[str, Any], run: dict[str, Any] | None = None) -> str:
        """The program and model versions (they enter the calculation id)."""
        raise NotImplementedError

    def run(self, structure: Structure, physics: dict[str, Any], run: dict[str, Any], directory) -> dict[str, Any]:
        """Calculate ``structure`` in ``directory``; return the calculation document's fields."""
        raise NotImplementedError

    def predict_batch(self, structures: list[Structure], physics: dict[str, Any]) -> list[dict[str, Any]]:
        """Static calculation-document fields of each of ``structures`` in batched calls (``batched`` ones)."""
        raise NotImplementedError

    def retry(self, structure: Structure, physics: dict[str, Any], found: dict[str, Any]) -> Retry | None:
        """How the failed calculation ``found`` runs again corrected; None: as it was."""
        return None


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is one of static, relax, vc-relax."""
    if mode not in MODES:
        raise SettingsError(f"mode {mode!r} is not allowed; allowed: {', '.join(MODES)}")
    return mode


def split_settings(
    calculator: str, defaults: dict[str, Any], run_defaults: dict[str, Any], settings: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Merge ``settings`` over the defaults; return (physics settings, run settings).

    Raises
    ------
    SettingsError
        A key is neither a physics nor a run setting of ``calculator``.
    """
    unknown = sorted(set(settings) - set(defaults) - set(run_defaults))
    if unknown:
        allowed = ", ".join(sorted({**defaults, **run_defaults}))
        raise SettingsError(f"unknown {calculator} setting(s) {unknown}; allowed: {allowed}")
    for key, value in settings.items():
        _check_value(calculator, key, value, {**defaults, **run_defaults}[key])
    physics = {key: settings.get(key, value) for key, value in defaults.items()}
    run = {key: settings.get(key, value) for key, value in run_defaults.items()}
    return physics, run


def _check_value(calculator: str, key: str, value: Any, default: Any) -> None:
    """Refuse a value of another kind than its default, or not positive where the default is (``max_*``: >= 0)."""
    if default is None or value is None:
        return
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        if not isinstance(value, type(default)):
            raise SettingsError(f"{calculator} setting {key!r} is {value!r}; allowed: a {type(default).__name__} "
                                f"(like the default {default!r})")
        return
    integer, counted = isinstance(default, int), key.startswith("max_")
    fits = isinstance(value, int if integer else (int, float)) and not isinstance(value, bool) and value == value
    if fits and default > 0:
        fits = value >= 0 if counted else value > 0
    if not fits:
        bound = "" if default <= 0 else " >= 0" if counted else " > 0"
        raise SettingsError(f"{calculator} setting {key!r} is {value!r}; allowed: "
                            f"{'an integer' if integer else 'a number'}{bound}")


def check_elements(elements: list[str], allowed: tuple[str, ...], calculator: str) -> None:
    """Refuse elements outside ``allowed`` (one line naming them and what is allowed)."""
    bad = sorted(set(elements) - set(allowed))
    if bad:
        raise StructureError(f"{calculator} cannot treat element(s) {bad}; allowed: {', '.join(allowed)}")


def check_structure(structure: Structure, allowed: tuple[str, ...] | None = None, calculator: str = "") -> None:
    """Refuse overlapping atoms and, if ``allowed`` is given, elements outside it."""
    if allowed is not None:
        check_elements([el.symbol for el in structure.composition], allowed, calculator)
    if len(structure) < 2:
        return
    distances = structure.distance_matrix + np.eye(len(structure)) * 1e9
    i, j = np.unravel_index(np.argmin(distances), distances.shape)
    if distances[i, j] < MIN_DISTANCE:
        raise StructureError(
            f"atoms {i} ({structure[i].specie}) and {j} ({structure[j].specie}) are {distances[i, j]:.3f} A apart;"
            f" overlapping atoms are refused (minimum {MIN_DISTANCE} A)"
        )


def structure_dict(structure: Structure) -> dict[str, Any]:
    """Return the pymatgen dict of ``structure`` with plain JSON/BSON types (no numpy scalars)."""
    return jsanitize(structure.as_dict(), strict=False)


def voigt_to_matrix(voigt: np.ndarray | list[float]) -> np.ndarray:
    """Return the 3x3 matrix of a Voigt 6-vector (xx, yy, zz, yz, xz, xy)."""
    xx, yy, zz, yz, xz, xy = np.asarray(voigt, dtype=float)
    return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])


def result_fields(
    structure: Structure,
    energy: float,
    forces: np.ndarray | None = None,
    stress_ev_a3: np.ndarray | None = None,
    magmoms: np.ndarray | None = None,
) -> dict[str, Any]:
    """Return calculation-document fields for a final ``structure`` and its energy (eV) and derivatives.

    ``stress_ev_a3`` is the ASE stress (eV/A^3, Voigt or 3x3; positive =
    tensile); it is stored as a 3x3 matrix in GPa.
    """
    fields: dict[str, Any] = {
        "energy": float(energy),
        "energy_per_atom": float(energy) / len(structure),
        "final_structure": structure_dict(structure),
        "forces": None if forces is None else np.asarray(forces, dtype=float).tolist(),
        "stress": None,
        "magmoms": None,
        "total_magnetization": None,
    }
    if stress_ev_a3 is not None:
        stress = np.asarray(stress_ev_a3, dtype=float)
        stress = voigt_to_matrix(stress) if stress.shape == (6,) else stress.reshape(3, 3)
        fields["stress"] = (stress * EV_PER_A3_TO_GPA).tolist()
    if magmoms is not None and np.any(magmoms):
        fields["magmoms"] = np.asarray(magmoms, dtype=float).tolist()
        fields["total_magnetization"] = float(np.sum(magmoms))
    return fields


def concurrent_runs(calculator: Any, settings: dict[str, Any]) -> int:
    """How many calculations of ``calculator`` one process runs at once on this host's cores.

    A program run beside Python (``subprocess``, e.g. pw.x) takes ``n_mpi`` x
    ``n_threads`` cores, so the cores this process may use hold that many at
    once; a calculator running inside Python runs one at a time.
    """
    if not calculator.subprocess:
        return 1
    run = {**calculator.run_defaults, **settings}
    return max(1, len(os.sched_getaffinity(0)) // (int(run["n_mpi"]) * int(run["n_threads"])))


def accounting(wall_time_s: float, n_cores: int, ran_here: bool = True, slots: int = 1) -> dict[str, Any]:
    """Return the wall time (s), cores charged, where they came from and core-hours of a calculation.

    ``n_cores`` is what the program used. Inside a SLURM job the cores charged
    are the job's allocation on this node (:func:`alloyscreen.slurm.allocated_cores`),
    what is paid for, shared by the ``slots`` calculations the job runs at once
    (:func:`concurrent_runs`), unless the work did not run in this process's
    job (``ran_here=False``: VASP outputs recorded by a later job keep their own count).
    """
    allocated = allocated_cores() if ran_here else None
    cores = max(int(n_cores), allocated // slots) if allocated else int(n_cores)
    return {"wall_time_s": float(wall_time_s), "n_cores": cores, "cores_from": "slurm" if allocated else "program",
            "core_hours": wall_time_s * cores / 3600.0}
