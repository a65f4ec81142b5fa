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
