"""GPAW's side of the :mod:`alloyscreen.validation.gpaw` calculator: PAW setups, the driver script, progress.

GPAW (GPL-3) is never imported here: the calculator writes ``input.json`` and
the driver script :data:`DRIVER` into a run directory and runs the script with
``gpaw python``, a separate process, as pw.x is run. The driver reads
``input.json``, runs ASE + GPAW (plane waves) and writes ``result.json``
(energy, forces, stress, moments, final cell and positions, or ``error``) and,
after every ionic step, ``geometry.json`` (the last geometry, from which an
interrupted relaxation goes on).

Setups: GPAW's PAW datasets, one file per element and functional
(``Pd.PBE.gz``; variants such as ``Ag.11.PBE.gz`` by explicit choice), read
from a directory (Debian's ``gpaw-data``: ``/usr/share/gpaw-setups``). A setup
is identified by the sha256 of its XML content (compressed or not), so a
calculation id does not depend on where the file lies.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from alloyscreen.errors import AlloyscreenError

DEFAULT_SETUPS_DIR = "/usr/share/gpaw-setups"
FUNCTIONALS = ("LDA", "PBE", "RPBE", "revPBE")  # those gpaw-data ships setups for
INSTALL_HINT = "apt-get install gpaw gpaw-data"
_ATOM = re.compile(r"<atom\s[^>]*valence=\"([\d.]+)\"")
_GENERATOR = re.compile(r"<generator\s[^>]*name=\"([^\"]*)\"")


class SetupError(AlloyscreenError):
    """A GPAW setup is missing, unreadable or of another functional."""


@dataclass(frozen=True)
class Setup:
    """One GPAW PAW setup file: what its header says and its content's sha256."""

    path: Path
    element: str
    kind: str  # GPAW's setup name: "paw" for Pd.PBE.gz, "11" for Ag.11.PBE.gz
    z_valence: float
    generator: str
    sha256: str


def setup_kind(element: str, functional: str, name: str) -> str | None:
    """GPAW's setup name of file ``name`` for ``element`` and ``functional`` (None: not such a file)."""
    stem = name.removesuffix(".gz")
    if not (stem.startswith(f"{element}.") and stem.endswith(f".{functional}")):
        return None
    middle = stem[len(element) + 1:-len(functional) - 1]
    return (middle or "paw") if "." not in middle else None


def read_setup(path: Path, element: str, kind: str) -> Setup:
    """Read the setup file ``path`` (gzip-compressed or plain XML)."""
    status = path.stat()
    valence, generator, sha256 = _read(str(path), status.st_mtime_ns, status.st_size)
    return Setup(path, element, kind, valence, generator, sha256)


@lru_cache(maxsize=512)
def _read(path: str, mtime_ns: int, size: int) -> tuple[float, str, str]:
    """(valence, generator name, sha256 of the XML) of setup ``path``, cached while it is unchanged."""
    raw = Path(path).read_bytes()
    try:
        text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError) as error:
        raise SetupError(f"cannot read GPAW setup {path}: {error}") from None
    header = text[:4000].decode(errors="replace")
    valence, generator = _ATOM.search(header), _GENERATOR.search(header)
    if valence is None:
        raise SetupError(f"{path} has no <atom ... valence=...> header: not a GPAW PAW setup")
    return float(valence.group(1)), generator.group(1) if generator else "unknown", hashlib.sha256(text).hexdigest()


def select_setups(elements: list[str], directory: str = DEFAULT_SETUPS_DIR, functional: str = "PBE",
                  explicit: dict[str, str] | None = None) -> dict[str, Setup]:
    """Return element -> setup of ``functional`` for ``elements``: ``{el}.{functional}[.gz]`` or the explicit file.

    Raises
    ------
    SetupError
        The directory does not exist, an element has no setup of
        ``functional`` there (the elements that have one are listed), or an
        explicit file is missing or of another element or functional.
    """
    root = Path(directory)
    if not root.is_dir():
        raise SetupError(f"GPAW setups directory {directory!r} does not exist: install the setups ({INSTALL_HINT})"
                         f" or set the gpaw 'pseudo_dir' setting")
    if functional not in FUNCTIONALS:
        raise SetupError(f"gpaw setting 'functional' is {functional!r}; allowed: {', '.join(FUNCTIONALS)}")
    chosen = {}
    for element in sorted(set(elements)):
        if explicit and element in explicit:
            name = explicit[element]
            kind = setup_kind(element, functional, name)
            if kind is None:
                raise SetupError(f"GPAW setup {name!r} is not a {functional} setup of {element} (a name like "
                                 f"{element}.{functional}.gz or {element}.11.{functional}.gz); use one functional")
            if not (root / name).is_file():
                raise SetupError(f"GPAW setup {name!r} for {element} not found in {directory}")
            chosen[element] = read_setup(root / name, element, kind)
            continue
        path = next((root / name for name in (f"{element}.{functional}.gz", f"{element}.{functional}")
                     if (root / name).is_file()), None)
        if path is None:
            have = sorted({name.split(".")[0] for name in (p.name for p in root.iterdir())
                           if setup_kind(name.split(".")[0], functional, name) == "paw"})
            raise SetupError(f"no GPAW {functional} setup for {element} in {directory}; available: {', '.join(have)}")
        chosen[element] = read_setup(path, element, "paw")
    return chosen


class GpawProgress:
    """How far a GPAW run is, from the driver's output fed in pieces (:meth:`feed`).

    GPAW's log prints ``iter:   7 10:41:07   -3.842026 ...`` per SCF iteration
    (iteration, time, energy in eV, a ``c`` after it once converged); the ASE optimiser ``BFGS:    2 10:41:09
    -3.845101   0.0213`` per ionic step (step, time, energy, fmax).
    """

    def __init__(self) -> None:
        self.ionic_step: int | None = None
        self.scf_iteration = 0
        self.energy: float | None = None
        self._partial = ""

    def feed(self, text: str) -> None:
        """Read the complete lines of what was kept and ``text``; keep an unfinished last line for later."""
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            words = line.split()
            try:
                if len(words) >= 4 and words[0] == "iter:":
                    self.scf_iteration, self.energy = int(words[1]), float(words[3].rstrip("c"))
                elif len(words) >= 5 and words[0].endswith(":") and words[0][:-1].isalpha() and words[1].isdigit():
                    self.ionic_step, self.energy, self.scf_iteration = int(words[1]) + 1, float(words[3]), 0
            except ValueError:  # not the line it looked like: progress never stops a run
                continue

    def __str__(self) -> str:
        """Return e.g. ``ionic step 3, scf iteration 7, E = -3.8451 eV``."""
        parts = [] if self.ionic_step is None else [f"ionic step {self.ionic_step}"]
        parts += [f"scf iteration {self.scf_iteration}"] if self.scf_iteration else []
        parts += [] if self.energy is None else [f"E = {self.energy:.4f} eV"]
        return ", ".join(parts) or "setting up"


DRIVER = '''\
"""alloyscreen's GPAW driver, run as `gpaw python gpaw_driver.py` in a run directory.

Reads input.json, writes result.json (energy, forces, stress, moments, cell and
positions; or error) and, after each ionic step, geometry.json.
"""
import json
import os
import sys
import time
import traceback

import ase.optimize
import gpaw
import numpy as np
from ase import Atoms
from ase.constraints import FixCartesian
from gpaw import GPAW, PW
from gpaw.mpi import world


def write_json(name, data):
    if world.rank == 0:
        with open(name + ".tmp", "w") as stream:
            json.dump(data, stream)
        os.replace(name + ".tmp", name)


def cell_filter(atoms):
    try:
        from ase.filters import FrechetCellFilter
        return FrechetCellFilter(atoms)
    except ImportError:  # ASE before 3.23
        from ase.constraints import ExpCellFilter
        return ExpCellFilter(atoms)


def run(given):
    physics = given["physics"]
    gpaw.setup_paths[:] = [physics["pseudo_dir"]]  # the setups of the calculation id, no other
    atoms = Atoms(numbers=given["numbers"], cell=given["cell"], positions=given["positions"], pbc=True)
    if given["magmoms"] is not None:
        atoms.set_initial_magnetic_moments(given["magmoms"])
    if given["fixed"]:
        atoms.set_constraint([FixCartesian(index, mask) for index, mask in given["fixed"]])
    occupations = {"name": physics["smearing"], "width": physics["smearing_width"]}
    if physics["smearing"] == "methfessel-paxton":
        occupations["order"] = 1
    atoms.calc = GPAW(mode=PW(physics["ecut"]), xc=physics["functional"], setups=given["setups"],
                      kpts={"size": physics["kpts"], "gamma": True}, occupations=occupations,
                      spinpol=physics["spin"], convergence=physics["convergence"], txt="-")
    steps, converged, target = 0, True, atoms
    if physics["mode"] != "static":
        target = cell_filter(atoms) if physics["mode"] == "vc-relax" else atoms
        optimizer = getattr(ase.optimize, physics["optimizer"])(target, logfile="-")
        optimizer.attach(lambda: write_json("geometry.json", {"cell": atoms.cell.tolist(),
                                                               "positions": atoms.positions.tolist()}))
        converged = bool(optimizer.run(fmax=physics["fmax"], steps=physics["steps"]))
        steps = optimizer.get_number_of_steps()
    energy = atoms.get_potential_energy()
    return {
        "energy": float(energy), "forces": atoms.get_forces().tolist(), "stress": atoms.get_stress().tolist(),
        "magmoms": atoms.get_magnetic_moments().tolist() if physics["spin"] else None,
        "cell": atoms.cell.tolist(), "positions": atoms.positions.tolist(), "converged": converged,
        "n_ionic_steps": steps, "fmax": float(np.linalg.norm(target.get_forces(), axis=1).max()),
    }


if __name__ == "__main__":
    start = time.time()
    try:
        with open("input.json") as stream:
            result = run(json.load(stream))
    except Exception as error:  # one line for the calculation document; the traceback stays in the output
        traceback.print_exc()
        where = traceback.extract_tb(error.__traceback__)[-1]
        message = " ".join(str(error).split()) or "(no message)"
        write_json("result.json", {"error": f"gpaw failed: {type(error).__name__}: {message} "
                                            f"({os.path.basename(where.filename)}:{where.lineno})"})
        sys.exit(1)
    result["wall_time_s"] = time.time() - start
    write_json("result.json", result)
'''
