"""A fake VASP for the tests, in the manner of atomate2's own VASP tests.

VASP cannot run here. As in ``atomate2.utils.testing.vasp``, atomate2's
``run_vasp`` is replaced: the real atomate2 job writes its inputs (a
``POTCAR.spec`` instead of the licensed POTCAR), the fake checks the inputs the
test expects, then copies real VASP outputs (``tests/data/vasp``, custodian's
test files) into the run directory, and atomate2 parses them as after a real run.

custodian's Al and Ag runs hold a vasprun.xml but no OUTCAR/CONTCAR, which
atomate2's parser (emmet ``TaskDoc.from_directory``) needs; for those the fake
parses with emmet's ``TaskDoc.from_vasprun``. That path fails in this emmet
release (it passes ``outcar={}``, which its own ``OutcarType`` refuses), so
``task_from_vasprun`` passes an Outcar dict that holds no data instead.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import emmet.core.vasp.calculation as emmet_calculation
import pytest
from emmet.core.tasks import TaskDoc
from jobflow import CURRENT_JOB
from jobflow.managers.local import run_locally
from pydantic import model_validator
from pymatgen.io.vasp import Incar, Kpoints, Poscar

DATA = Path(__file__).parents[1] / "data" / "vasp"
OUTPUT_FILES = ("vasprun.xml.gz", "OUTCAR.gz", "OSZICAR.gz", "CONTCAR.gz")


@dataclass
class Expected:
    """What one VASP job must have written, and the folder of real outputs it then gets.

    ``incar``: INCAR values the stage implies (floats compared to 1e-6,
    lists element-wise); ``potcar``: POTCAR.spec symbols; ``species``: POSCAR
    site symbols in order; ``kpoints``: the k-point grid, if given.
    """

    outputs: str
    incar: dict[str, Any] = field(default_factory=dict)
    potcar: list[str] = field(default_factory=list)
    species: list[str] = field(default_factory=list)
    kpoints: tuple[int, int, int] | None = None


def _same(found: Any, wanted: Any) -> bool:
    if isinstance(wanted, (list, tuple)):
        found = found if isinstance(found, (list, tuple)) else [found]
        return len(found) == len(wanted) and all(_same(f, w) for f, w in zip(found, wanted, strict=True))
    if isinstance(wanted, float) or isinstance(found, float):
        return isinstance(found, (int, float)) and math.isclose(found, wanted, abs_tol=1e-6)
    return found == wanted


def check_inputs(directory: Path, expected: Expected) -> dict[str, Any]:
    """Check the inputs a job wrote in ``directory``; return what was read (AssertionError on a mismatch)."""
    incar = Incar.from_file(directory / "INCAR")
    for key, wanted in expected.incar.items():
        assert _same(incar.get(key), wanted), f"INCAR {key} = {incar.get(key)!r}, expected {wanted!r}"
    assert not (directory / "POTCAR").exists(), "a POTCAR was written; expected POTCAR.spec only"
    potcar = (directory / "POTCAR.spec").read_text().split()
    assert potcar == expected.potcar, f"POTCAR.spec {potcar}, expected {expected.potcar}"
    species = [site.specie.symbol for site in Poscar.from_file(directory / "POSCAR").structure]
    if expected.species:
        assert species == expected.species, f"POSCAR species {species}, expected {expected.species}"
    kpoints = tuple(Kpoints.from_file(directory / "KPOINTS").kpts[0])
    if expected.kpoints is not None:
        assert kpoints == tuple(expected.kpoints), f"KPOINTS grid {kpoints}, expected {expected.kpoints}"
    return {"incar": dict(incar), "potcar": potcar, "species": species, "kpoints": kpoints}


class _OutputWithoutOutcar(emmet_calculation.CalculationOutput):
    """emmet's CalculationOutput accepting its own ``outcar={}`` (vasprun.xml without OUTCAR)."""

    @model_validator(mode="before")
    @classmethod
    def _empty_outcar(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("outcar") == {}:
            return {**data, "outcar": {"@module": "pymatgen.io.vasp.outputs", "@class": "Outcar"}}
        return data


def task_from_vasprun(directory: Path) -> TaskDoc:
    """Parse a run directory that holds vasprun.xml but no OUTCAR with emmet's ``TaskDoc.from_vasprun``."""
    vasprun = next(path for path in (directory / "vasprun.xml.gz", directory / "vasprun.xml") if path.exists())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(emmet_calculation, "CalculationOutput", _OutputWithoutOutcar)
        return TaskDoc.from_vasprun(vasprun)


class FakeVasp:
    """Stands in for VASP in atomate2 jobs; ``expect`` each job by name before running the flow."""

    def __init__(self) -> None:
        self.expected: dict[tuple[str, frozenset[str] | None], Expected] = {}
        self.checked: list[dict[str, Any]] = []
        self.parsed_without_outcar: list[str] = []

    def expect(self, job_name: str, expected: Expected, elements: set[str] | None = None) -> None:
        """Give the job ``job_name`` (on a structure of exactly ``elements``, if given) its inputs and outputs."""
        self.expected[(job_name, None if elements is None else frozenset(elements))] = expected

    def run_vasp(self, *args: Any, **kwargs: Any) -> None:
        """Replace atomate2's ``run_vasp``: check the inputs in the job's directory, copy the outputs in."""
        name = CURRENT_JOB.job.name
        here = Path.cwd()
        elements = frozenset(site.specie.symbol for site in Poscar.from_file(here / "POSCAR").structure)
        expected = self.expected.get((name, elements)) or self.expected.get((name, None))
        assert expected is not None, f"no outputs for the VASP job {name!r} of {sorted(elements)}"
        inputs = check_inputs(here, expected)
        self.checked.append({"job": name, **inputs})
        for file_name in OUTPUT_FILES:
            if (DATA / expected.outputs / file_name).exists():
                shutil.copy(DATA / expected.outputs / file_name, here / file_name)

    def run(self, flow: Any, root_dir: Path) -> dict:
        """Run ``flow`` with jobflow's ``run_locally``; return its responses.

        The first exception raised in a job (a failed input check too) is raised here.
        """
        return run_locally(flow, create_folders=True, root_dir=root_dir, ensure_success=True, raise_immediately=True,
                           log=False)


def _spec_only(get_input_set):
    """Wrap ``get_input_set`` to always write POTCAR.spec: no POTCAR files exist here."""

    def spec_only(self, *args: Any, **kwargs: Any):
        return get_input_set(self, *args, **{**kwargs, "potcar_spec": True})

    return spec_only


def install(monkeypatch: pytest.MonkeyPatch) -> FakeVasp:
    """Patch atomate2 so that its VASP jobs run ``FakeVasp``; return it."""
    import atomate2.vasp.jobs.base
    import atomate2.vasp.run
    from atomate2.vasp.sets.base import VaspInputGenerator
    from pymatgen.io.vasp.sets import VaspInputSet

    fake = FakeVasp()
    monkeypatch.setattr(atomate2.vasp.jobs.base, "run_vasp", fake.run_vasp)
    monkeypatch.setattr(atomate2.vasp.run, "run_vasp", fake.run_vasp)
    for generator in (VaspInputSet, VaspInputGenerator):  # the MP makers use pymatgen's sets
        monkeypatch.setattr(generator, "get_input_set", _spec_only(generator.get_input_set))

    parse = atomate2.vasp.jobs.base.get_vasp_task_document

    def parse_outputs(path: Path | str, **kwargs: Any):
        path = Path(path)
        if any((path / name).exists() for name in ("OUTCAR", "OUTCAR.gz")):
            return parse(path, **kwargs)
        fake.parsed_without_outcar.append(CURRENT_JOB.job.name)
        return task_from_vasprun(path)

    monkeypatch.setattr(atomate2.vasp.jobs.base, "get_vasp_task_document", parse_outputs)
    return fake
