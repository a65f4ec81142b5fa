"""Core-hours: the program's cores outside SLURM, the job's allocation on the node inside a SLURM job."""

from __future__ import annotations

import pytest
from tests.validation.conftest import fcc_primitive

from alloyscreen.validation.base import accounting
from alloyscreen.validation.maker import validate


def _in_slurm_job(monkeypatch, cores: int) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "4711")
    monkeypatch.setenv("SLURM_CPUS_ON_NODE", str(cores))


def test_core_hours_charge_the_allocation_inside_a_slurm_job(monkeypatch):
    assert accounting(7200, 2) == {"wall_time_s": 7200.0, "n_cores": 2, "cores_from": "program", "core_hours": 4.0}
    _in_slurm_job(monkeypatch, 6)
    assert accounting(7200, 2) == {"wall_time_s": 7200.0, "n_cores": 6, "cores_from": "slurm", "core_hours": 12.0}
    assert accounting(7200, 2, ran_here=False)["core_hours"] == 4.0  # work done in another job keeps its count
    assert accounting(7200, 2, slots=3)["n_cores"] == 2  # three pw.x runs at once share the six cores
    assert accounting(7200, 1, slots=4)["n_cores"] == 1


def test_an_emt_calculation_in_a_slurm_job_is_charged_its_allocation(database, monkeypatch):
    _in_slurm_job(monkeypatch, 3)
    doc, reused = validate(fcc_primitive("Ni", 3.5317), "emt", {}, "static", database=database)
    assert not reused and doc.status == "completed"
    assert (doc.n_cores, doc.cores_from) == (3, "slurm")  # EMT itself runs on one core
    assert doc.core_hours == pytest.approx(doc.wall_time_s * 3 / 3600)
    stored = database["calculations"].find_one({"_id": doc.id})
    assert (stored["n_cores"], stored["cores_from"]) == (3, "slurm")
