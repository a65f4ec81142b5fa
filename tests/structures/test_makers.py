"""The structure Maker runs as a jobflow job and returns a stored-ready document."""

from jobflow import run_locally

from alloyscreen.schemas.structure import StructureDocument
from alloyscreen.structures.makers import StructureMaker


def test_structure_maker_runs_locally():
    maker = StructureMaker(method="sqs", seed=3, iterations=5000)
    job = maker.make({"Ni": 0.5, "Cr": 0.5}, "fcc", "cand-1")
    responses = run_locally(job, ensure_success=True)
    document = responses[job.uuid][1].output
    assert isinstance(document, StructureDocument)
    assert document.kind == "bulk-sqs" and document.candidate_id == "cand-1"
    assert document.provenance.job_uuid == job.uuid and document.provenance.parents == ["cand-1"]
    again = maker.make({"Ni": 0.5, "Cr": 0.5}, "fcc", "cand-1")
    assert run_locally(again, ensure_success=True)[again.uuid][1].output.id == document.id


def test_cells_fit_the_calculator_and_a_pure_element_gets_its_primitive_cell():
    maker = StructureMaker(method="random", seed=1)
    assert len(maker.generate({"Cu": 1.0}, "fcc", cell_atoms=(32, 256)).structure) == 1
    dft = maker.generate({"Cu": 0.25, "Ni": 0.75}, "fcc", cell_atoms=(1, 64)).structure
    potential = maker.generate({"Cu": 0.25, "Ni": 0.75}, "fcc", cell_atoms=(32, 256)).structure
    assert (len(dft), len(potential)) == (4, 32)  # the L1_2 cell, then the smallest supercell of 32 or more
    assert potential.composition["Cu"] == 8
    fixed = StructureMaker(method="random", supercell=(2, 1, 1)).generate({"Cu": 0.5, "Ni": 0.5}, "fcc")
    assert len(fixed.structure) == 8
