"""pw.x input files from pymatgen structures, and what a pw.x output file says."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Element, Structure

MANAGED_NAMELISTS = ("control", "system", "electrons", "ions", "cell")
_ERROR = re.compile(r"%{10,}\s*\n\s*Error in routine\s+(\S+)\s*\(\s*(-?\d+)\s*\):\s*\n\s*(.+?)\s*\n", re.S)
_WALL = re.compile(r"PWSCF\s*:.*?CPU\s+(.+?)\s*WALL")
_TOTAL_MAG = re.compile(r"total magnetization\s*=\s*(-?[\d.]+)")
_VERSION = re.compile(r"Program PWSCF (v\.\S+)")
_SITE_MOMENT = re.compile(r"atom:\s+(\d+)\s+charge:\s+\S+\s+magn:\s+(-?[\d.]+)")
_STOPPED = re.compile(r"Maximum CPU time exceeded\s+max_seconds\s*=\s*(\S+)\s+elapsed seconds\s*=\s*(\S+)")
_SCF_ENERGY = re.compile(r"^!\s+total energy", re.M)


def kpoint_grid(structure: Structure, spacing: float) -> list[int]:
    """Return the Monkhorst-Pack grid with reciprocal spacing below ``spacing`` (1/A, 2 pi included)."""
    lengths = structure.lattice.reciprocal_lattice.abc
    return [max(1, math.ceil(length / spacing - 1e-6)) for length in lengths]


def _fortran(value: Any) -> str:
    if isinstance(value, bool):
        return ".true." if value else ".false."
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, float):
        return repr(value).replace("e", "d")
    return str(value)


def species_labels(structure: Structure, magnetization: list[float] | None = None,
                   ) -> tuple[list[str], dict[str, tuple[str, float]]]:
    """Return each site's species label and, per label in order of Z, (element, starting magnetisation).

    One species per element, unless its sites start with different
    magnetisations: then ``Fe``, ``Fe2`` ... (pw.x tells species, not sites, apart).
    """
    starts = [0.0] * len(structure) if magnetization is None else [round(float(m), 6) for m in magnetization]
    kinds = sorted({(site.specie.symbol, start) for site, start in zip(structure, starts, strict=True)},
                   key=lambda kind: (Element(kind[0]).Z, -kind[1]))
    names: dict[tuple[str, float], str] = {}
    for element, start in kinds:
        count = sum(1 for known in names if known[0] == element)
        names[(element, start)] = element if count == 0 else f"{element}{count + 1}"
    labels = [names[(site.specie.symbol, start)] for site, start in zip(structure, starts, strict=True)]
    return labels, {label: kind for kind, label in names.items()}


def write_input(
    structure: Structure,
    namelists: dict[str, dict[str, Any]],
    pseudopotentials: dict[str, str],
    kpts: list[int],
    starting_magnetization: list[float] | None = None,
) -> str:
    """Return the text of a pw.x input file.

    Parameters
    ----------
    structure
        Cell and atoms (written in Angstrom and crystal coordinates).
    namelists
        ``{"control": {...}, "system": {...}, ...}``; ibrav, nat, ntyp and
        starting_magnetization are added here.
    pseudopotentials
        Element -> UPF file name in ``control.pseudo_dir``.
    kpts
        Monkhorst-Pack grid.
    starting_magnetization
        Per site: starting magnetisation (fraction of valence charge, -1..1);
        turns on ``nspin = 2`` when given. Sites of one element that start
        differently (an antiferromagnetic start) become species ``Cr``, ``Cr2`` ...
    """
    labels, species = species_labels(structure, starting_magnetization)
    blocks = {name: dict(values) for name, values in namelists.items()}
    system = blocks.setdefault("system", {})
    system.update({"ibrav": 0, "nat": len(structure), "ntyp": len(species)})
    if starting_magnetization is not None:
        if not system.get("noncolin"):  # non-collinear runs are spin-polarised without nspin
            system["nspin"] = 2
        for index, (_, start) in enumerate(species.values(), start=1):
            system[f"starting_magnetization({index})"] = start
    lines = []
    for name in MANAGED_NAMELISTS:
        if name in blocks:
            lines.append(f"&{name.upper()}")
            lines.extend(f"  {key} = {_fortran(value)}" for key, value in blocks[name].items())
            lines.append("/")
    lines.append("ATOMIC_SPECIES")
    for label, (element, _) in species.items():
        mass = float(Element(element).atomic_mass)
        lines.append(f"  {label} {mass:.4f} {pseudopotentials[element]}")
    lines.append("CELL_PARAMETERS angstrom")
    lines.extend("  " + " ".join(f"{x:.10f}" for x in row) for row in structure.lattice.matrix)
    lines.append("ATOMIC_POSITIONS crystal")
    for label, site in zip(labels, structure, strict=True):
        lines.append(f"  {label} " + " ".join(f"{x:.10f}" for x in site.frac_coords))
    lines.append("K_POINTS automatic")
    lines.append("  " + " ".join(str(int(k)) for k in kpts) + " 0 0 0")
    return "\n".join(lines) + "\n"


def parse_duration(text: str) -> float:
    """Return seconds for a pw.x duration such as ``1h 2m``, ``3m45.10s`` or ``12.34s``."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    return sum(float(number) * units[unit] for number, unit in re.findall(r"([\d.]+)\s*([hms])", text))


@dataclass
class PwOutcome:
    """What a pw.x run ended with.

    ``kind`` is ``ok``, ``scf`` (electrons not converged), ``ionic`` (relaxation
    steps exhausted), ``stopped`` (pw.x reached ``max_seconds`` and wrote its
    restart files), ``error`` (pw.x stopped with an error message) or
    ``killed`` (no clean end: signal, crash, time limit).
    """

    kind: str
    reason: str | None = None
    wall_time_s: float | None = None
    version: str | None = None
    total_magnetization: float | None = None


def classify_output(text: str, returncode: int | None, calculation: str) -> PwOutcome:
    """Classify the pw.x output ``text`` of a run that exited with ``returncode`` (None: timed out)."""
    wall = _WALL.findall(text)
    mag = _TOTAL_MAG.findall(text)
    version = _VERSION.search(text)
    common: dict[str, Any] = {
        "wall_time_s": parse_duration(wall[-1]) if wall else None,
        "version": version.group(1) if version else None,
        "total_magnetization": float(mag[-1]) if mag else None,
    }
    error = _ERROR.search(text)
    if error:
        routine, code, message = error.groups()
        return PwOutcome("error", f"pw.x error in routine {routine} ({code.strip()}): {message.strip()}", **common)
    stopped = _STOPPED.search(text)
    if stopped:
        limit, elapsed = stopped.groups()
        return PwOutcome("stopped", f"stopped at max_seconds ({limit} s, {elapsed} s elapsed)", **common)
    if "convergence NOT achieved" in text:
        steps = re.findall(r"convergence NOT achieved after\s+(\d+)", text)
        return PwOutcome("scf", f"SCF not converged after {steps[-1] if steps else '?'} iterations", **common)
    if returncode is None:
        return PwOutcome("killed", "pw.x exceeded its time limit and was stopped", **common)
    if returncode != 0 or "JOB DONE" not in text:
        signal = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else None
        how = f"killed by signal {signal}" if signal else f"exited with code {returncode}"
        return PwOutcome("killed", f"pw.x {how} before finishing (no JOB DONE in output)", **common)
    if calculation != "scf" and ("maximum number of steps has been reached" in text or "bfgs converged" not in text):
        return PwOutcome("ionic", "ionic relaxation not converged within nstep steps", **common)
    return PwOutcome("ok", None, **common)


def completed_scf_cycles(text: str) -> int:
    """Return how many SCF cycles of a pw.x output ended with a total energy (one per ionic step)."""
    return len(_SCF_ENERGY.findall(text))


def read_final(path: Path):
    """Return the last image of the pw.x output ``path`` as ASE Atoms with its results."""
    from ase.io import read

    return read(path, format="espresso-out", index=-1)


def final_fields(path: Path) -> tuple[Structure, float, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Return (final structure, energy eV, forces eV/A, ASE stress eV/A^3, site magmoms) of ``path``."""
    atoms = read_final(path)
    results = atoms.calc.results
    structure = Structure.from_ase_atoms(atoms)
    magmoms = site_moments(Path(path).read_text(errors="replace"), len(structure))  # ASE 3.29 misses pw.x 6.7's
    if magmoms is None:
        magmoms = results.get("magmoms")
    return structure, results["energy"], results.get("forces"), results.get("stress"), magmoms


def site_moments(text: str, n_sites: int) -> np.ndarray | None:
    """Return the last "Magnetic moment per site" block of a pw.x output (Bohr magneton), or None."""
    blocks = text.split("Magnetic moment per site")
    if len(blocks) < 2:
        return None
    found = _SITE_MOMENT.findall(blocks[-1])[:n_sites]
    return np.array([float(moment) for _, moment in found]) if len(found) == n_sites else None
