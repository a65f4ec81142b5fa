"""What a DFT calculation will cost: a core-hour model fitted to the calculation cache, with a stated prior.

The model (natural logarithms)::

    ln(core_hours) = b0 + b_atoms ln(N_atoms) + b_k ln(N_k) + b_ecut ln(ecutwfc / 35 Ry)
                     + b_spin [spin-polarised] + b_relax [relax or vc-relax]

``N_k`` is the number of irreducible k-points of the mesh (spglib, time
reversal, sites told apart by element and starting moment as pw.x tells its
species apart): what pw.x computes, so that a 1-atom fcc cell at 8x8x8 (29
points) and a 32-atom CuNi SQS at 4x4x4 (30) compare. The features are
centred on the measured point below, so ``b0`` is the cost at that point.

Prior (plane-wave DFT scaling): one SCF step costs about
``N_k x N_bands x N_pw log N_pw`` with ``N_bands ~ N_atoms`` and
``N_pw ~ volume x ecutwfc^1.5 ~ N_atoms ecutwfc^1.5``, i.e. ``N_atoms^2`` for
small cells rising towards ``N_atoms^3`` where orthogonalisation dominates:
``b_atoms = 2.5 +- 0.5``, ``b_k = 1.0 +- 0.3``, ``b_ecut = 1.5 +- 0.5``;
spin polarisation doubles the work (``b_spin = ln 2 +- 0.5``); a relaxation
costs about six SCF cycles (``b_relax = ln 6 +- 1``). ``b0``: the measured point
of DESIGN.md, pw.x fcc Cu, 1 atom, PAW, 35 Ry, 8x8x8 k-points, one core, scf:
3 s (``+- 1``, a factor of 2.7). Checks: DESIGN.md's other point, a 4-atom
spin-polarised Cu-Ni-Fe cell at 6x6x6 k-points, 2 min 13 s, against 4 min 25 s
from the prior for an fcc Cu2NiFe scf at the first point's 35 Ry
(:func:`prior_check`; DESIGN.md states neither cell nor cutoff); measured for
this model on the same 2 cores, shared (load about 2.5): fcc Cu scf at 20 Ry,
4 atoms at 4x4x4 (10 irreducible points) 10.6 s (prior 14 s), 32 atoms at
2x2x2 (4 points) 643 s (prior 1036 s): ``N_atoms^2.4`` at a fixed count of k-points.

A calculation of less than a minute's core time is mostly pw.x's start-up
(reading pseudopotentials, setting up grids) and the machine's load, not the
scaling the model extrapolates: fitted to such runs it would learn a flat
scaling and underestimate a large cell by an order of magnitude. Those are
left out of the fit (``MIN_FIT_CORE_HOURS``).

Fit (:class:`CostModel`): the maximum a posteriori of the Bayesian linear
regression with that prior (independent Gaussians) and a residual standard
deviation of ``NOISE_SD``: plain least squares once the cache holds enough
varied calculations, the prior where it holds none, and in between every
coefficient the data do not determine (all cached calculations at one
cutoff, say) stays at its prior. The training set is the completed
calculations of one calculator in the cache that took a core-minute or more
(:func:`training_set`). VASP (which runs on a cluster) has the same
features, read from the input set atomate2 writes; its prior is the pw.x one, and so is GPAW's
(plane waves too; its cutoff ``ecut`` in eV enters as Ry).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import spglib
from pymatgen.core import Lattice, Structure

from alloyscreen.validation.qe_io import kpoint_grid
from alloyscreen.validation.vasp import VaspCalculator

RY_EV = 13.605693122994  # eV per Rydberg
FEATURES = ("intercept", "ln_atoms", "ln_kpoints", "ln_ecutwfc", "spin", "relax")
# the measured point: pw.x fcc Cu (a = 3.61 Å), 1 atom, 35 Ry, 8x8x8 k-points, scf, 3 s on one core
PRIOR_CORE_HOURS, PRIOR_KPTS, PRIOR_ECUTWFC, PRIOR_A = 3.0 / 3600, (8, 8, 8), 35.0, 3.61
PRIOR_SLOPES = np.array([2.5, 1.0, 1.5, np.log(2.0), np.log(6.0)])
PRIOR_SD = np.array([1.0, 0.5, 0.3, 0.5, 0.5, 1.0])
NOISE_SD = 0.5  # residual standard deviation of ln(core_hours): SCF and ionic step counts vary
TRAINING_LIMIT = 200  # most recent cached calculations a model learns from
MIN_FIT_CORE_HOURS = 60 / 3600  # shorter calculations are start-up, not scaling (module docstring)


@dataclass(frozen=True)
class CostFeatures:
    """What a DFT calculation's cost depends on, read from its structure and resolved physics settings.

    Attributes
    ----------
    n_atoms
        Atoms in the cell.
    kpts
        k-point mesh.
    irreducible_kpoints
        Irreducible points of the mesh (:func:`irreducible_kpoints`).
    ecutwfc, ecutrho
        Wave-function and charge-density cutoffs (Ry; VASP: ENCUT converted, no ``ecutrho``).
    spin
        Spin-polarised.
    mode
        static, relax or vc-relax.
    """

    n_atoms: int
    kpts: tuple[int, int, int]
    irreducible_kpoints: int
    ecutwfc: float
    ecutrho: float | None
    spin: bool
    mode: str

    def vector(self) -> np.ndarray:
        """The model's features (:data:`FEATURES`), centred on the prior's measured point."""
        return np.array([1.0, np.log(self.n_atoms), np.log(self.irreducible_kpoints / _prior_kpoints()),
                         np.log(self.ecutwfc / PRIOR_ECUTWFC), float(self.spin),
                         float(self.mode != "static")])


def irreducible_kpoints(structure: Structure, mesh: Sequence[int],
                        moments: list[float] | None = None) -> int:
    """Number of irreducible points of the Gamma-centred ``mesh`` of ``structure`` (time reversal used).

    ``moments``: starting moment per site (Bohr magneton); sites of one element
    with different moments are told apart, as pw.x's species are.
    """
    kinds = [(site.specie.Z, round(float(m), 3)) for site, m in zip(structure, moments or [0.0] * len(structure),
                                                                       strict=True)]
    order = {kind: number for number, kind in enumerate(sorted(set(kinds)), start=1)}
    numbers = [order[kind] for kind in kinds]
    cell = (structure.lattice.matrix.tolist(), structure.frac_coords.tolist(), numbers)
    with warnings.catch_warnings():  # spglib 2 announces a change of its error handling at every call
        warnings.simplefilter("ignore", DeprecationWarning)
        found = spglib.get_ir_reciprocal_mesh([int(n) for n in mesh], cell, is_shift=[0, 0, 0], symprec=1e-3)
    if found is None:  # no symmetry found: time reversal alone
        return max(1, int(np.prod(mesh)) // 2 + 1)
    return int(len(np.unique(found[0])))


@lru_cache(maxsize=1)
def _prior_kpoints() -> int:
    """Irreducible k-points of the prior's measured point (fcc Cu, 8x8x8: 29)."""
    a = PRIOR_A / 2**0.5
    cell = Structure(Lattice.from_parameters(a, a, a, 60, 60, 60), ["Cu"], [[0, 0, 0]])
    return irreducible_kpoints(cell, PRIOR_KPTS)


def _qe_features(structure: Structure, physics: dict[str, Any]) -> CostFeatures:
    """Features of a pw.x calculation from its resolved physics (:meth:`QECalculator.resolve`)."""
    kpts = tuple(int(n) for n in (physics.get("kpts") or kpoint_grid(structure, float(physics["kspacing"]))))
    moments = None
    if physics.get("spin"):
        given = structure.site_properties.get("magmom") or [None] * len(structure)
        moments = [float(physics["magmoms"].get(site.specie.symbol, 0.0) if m is None else m)
                   for site, m in zip(structure, given, strict=True)]
    return CostFeatures(len(structure), (kpts[0], kpts[1], kpts[2]), irreducible_kpoints(structure, kpts, moments),
                        float(physics["ecutwfc"]), physics.get("ecutrho"), bool(physics.get("spin")),
                        str(physics["mode"]))


def _vasp_features(structure: Structure, physics: dict[str, Any]) -> CostFeatures:
    """Features of a VASP calculation from the inputs atomate2 writes for it (ENCUT in eV -> Ry)."""
    inputs = VaspCalculator().input_set(structure, physics)
    incar = inputs.incar
    if inputs.kpoints is not None:
        kpts = tuple(int(n) for n in inputs.kpoints.kpts[0])
    else:  # KSPACING (1/A, 2 pi included as in VASP)
        kpts = tuple(kpoint_grid(structure, float(incar.get("KSPACING", 0.5))))
    spin = int(incar.get("ISPIN", 1)) == 2
    moments = list(incar.get("MAGMOM") or []) if spin else None
    moments = moments if moments and len(moments) == len(structure) else None
    return CostFeatures(len(structure), (kpts[0], kpts[1], kpts[2]), irreducible_kpoints(structure, kpts, moments),
                        float(incar.get("ENCUT", 520.0)) / RY_EV, None, spin, str(physics["mode"]))


def _gpaw_features(structure: Structure, physics: dict[str, Any]) -> CostFeatures:
    """Features of a GPAW calculation (:meth:`GPAWCalculator.resolve`): pw.x's, its cutoff ``ecut`` in eV -> Ry."""
    return _qe_features(structure, {**physics, "ecutwfc": float(physics["ecut"]) / RY_EV, "ecutrho": None})


FEATURE_READERS = {"qe": _qe_features, "vasp": _vasp_features, "gpaw": _gpaw_features}


def is_dft(calculator: str) -> bool:
    """Whether ``calculator`` is a DFT code whose cost this module estimates (qe, vasp, gpaw)."""
    return calculator in FEATURE_READERS


def calculation_features(calculator: str, structure: Structure, physics: dict[str, Any]) -> CostFeatures:
    """The cost features of ``structure`` with the resolved ``physics`` of DFT ``calculator``."""
    return FEATURE_READERS[calculator](structure, physics)


def prior_check(ecutwfc: float = 35.0) -> dict[str, float]:
    """The prior's core-hours for DESIGN.md's second measured point, and the measurement (2 min 13 s).

    Assumed where DESIGN.md says nothing: an fcc conventional Cu2NiFe cell
    (a = 3.58 Å), scf, one core, at ``ecutwfc`` Ry.
    """
    cell = Structure(Lattice.cubic(3.58), ["Cu", "Cu", "Ni", "Fe"],
                     [[0.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]])
    moments = [0.0, 0.0, 1.0, 3.0]
    features = CostFeatures(4, (6, 6, 6), irreducible_kpoints(cell, (6, 6, 6), moments), ecutwfc, None, True, "static")
    mean, _ = CostModel().fit(np.empty((0, len(FEATURES))), np.empty(0)).predict(features.vector())
    return {"prior_core_hours": float(np.exp(mean[0])), "measured_core_hours": 133.0 / 3600}


class CostModel:
    """ln(core-hours) linear in the features of :class:`CostFeatures`, with a Gaussian prior (module docstring).

    Parameters
    ----------
    prior_mean
        Prior means of the coefficients (:data:`FEATURES` order); default: the measured point and the slopes above.
    prior_sd
        Prior standard deviations of the coefficients.
    noise_sd
        Residual standard deviation of ln(core_hours).
    """

    def __init__(self, prior_mean: np.ndarray | None = None, prior_sd: np.ndarray | None = None,
                 noise_sd: float = NOISE_SD) -> None:
        self.prior_mean = prior_mean
        self.prior_sd = prior_sd
        self.noise_sd = noise_sd

    def _mean(self) -> np.ndarray:
        if self.prior_mean is not None:
            return np.asarray(self.prior_mean, dtype=float)
        return np.concatenate([[np.log(PRIOR_CORE_HOURS)], PRIOR_SLOPES])

    def _sd(self) -> np.ndarray:
        return np.asarray(PRIOR_SD if self.prior_sd is None else self.prior_sd, dtype=float)

    def fit(self, X: np.ndarray, core_hours: np.ndarray) -> CostModel:
        """Fit to features ``X`` (n x 6, :meth:`CostFeatures.vector` rows) and measured core-hours (n,).

        With no rows the model is the prior.
        """
        X, y = np.asarray(X, dtype=float).reshape(-1, len(FEATURES)), np.log(np.asarray(core_hours, dtype=float))
        precision = np.diag(self._sd() ** -2.0)
        posterior = X.T @ X / self.noise_sd**2 + precision
        self.cov_ = np.linalg.inv(posterior)
        self.coef_ = self.cov_ @ (X.T @ y / self.noise_sd**2 + precision @ self._mean())
        self.n_fitted_ = len(y)
        return self

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ln(core-hours) and its standard deviation (coefficients' and residual) for features ``X``."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        spread = np.einsum("ij,jk,ik->i", X, self.cov_, X) + self.noise_sd**2
        return X @ self.coef_, np.sqrt(spread)

    def basis(self, calculator: str) -> str:
        """One line on what the estimates rest on."""
        if not self.n_fitted_:
            return (f"prior (no completed {calculator} calculation of a core-minute or more cached): pw.x fcc Cu, "
                "1 atom, 35 Ry, 8x8x8 k: 3 s on one core, scaled as N_atoms^2.5 N_k ecutwfc^1.5, x2 spin, x6 relax")
        return f"fitted to {self.n_fitted_} cached {calculator} calculation(s) (least squares with the prior)"


def training_set(calculator: str, database=None, limit: int = TRAINING_LIMIT,
                 min_core_hours: float = MIN_FIT_CORE_HOURS) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features, core-hours and ids of the completed ``calculator`` calculations in the cache.

    The newest ``limit`` of those that took at least ``min_core_hours`` (core hours).
    """
    if database is None:
        from alloyscreen.db.client import get_database

        database = get_database()
    hours_at_least = {"$gte": min_core_hours} if min_core_hours > 0 else {"$gt": 0}
    query = {"calculator": calculator, "status": "completed", "core_hours": hours_at_least,
             "input_structure": {"$ne": None}}
    found = database["calculations"].find(query, {"settings": 1, "input_structure": 1, "core_hours": 1}).sort(
        "provenance.created_at", -1).limit(limit)
    rows, hours, ids = [], [], []
    for document in found:
        structure = Structure.from_dict(document["input_structure"])
        rows.append(calculation_features(calculator, structure, document["settings"]).vector())
        hours.append(float(document["core_hours"]))
        ids.append(document["_id"])
    return np.reshape(rows, (-1, len(FEATURES))), np.asarray(hours, dtype=float), ids


def fitted_model(calculator: str, database=None, min_core_hours: float = MIN_FIT_CORE_HOURS) -> CostModel:
    """The cost model of ``calculator`` fitted to its cached calculations (:func:`training_set`; none: the prior)."""
    X, hours, _ = training_set(calculator, database, min_core_hours=min_core_hours)
    return CostModel().fit(X, hours)


def leave_one_out(X: np.ndarray, core_hours: np.ndarray) -> np.ndarray:
    """|ln(estimate / measured)| of each calculation, estimated by a model fitted to all the others."""
    errors = []
    for index in range(len(core_hours)):
        keep = np.arange(len(core_hours)) != index
        mean, _ = CostModel().fit(X[keep], core_hours[keep]).predict(X[index])
        errors.append(abs(float(mean[0]) - float(np.log(core_hours[index]))))
    return np.asarray(errors)
