"""The SLURM job this process runs in, and what the queue says of a job (a fake squeue)."""

from __future__ import annotations

from alloyscreen.slurm import allocated_cores, job_gone, job_id


def test_allocated_cores_are_the_jobs_cpus_on_this_node_and_none_outside_slurm(monkeypatch):
    monkeypatch.setenv("SLURM_CPUS_ON_NODE", "8")
    monkeypatch.setenv("SLURM_JOB_CPUS_PER_NODE", "4(x2),2")
    assert (job_id(), allocated_cores()) == (None, None)  # no SLURM_JOB_ID: not in a job, whatever else is set
    monkeypatch.setenv("SLURM_JOB_ID", "1234")
    assert (job_id(), allocated_cores()) == ("1234", 8)
    monkeypatch.delenv("SLURM_CPUS_ON_NODE")
    assert allocated_cores() == 4  # the first node's count
    monkeypatch.setenv("SLURM_JOB_CPUS_PER_NODE", "")
    assert allocated_cores() is None


def test_a_job_is_gone_when_the_queue_lists_it_no_more_or_in_a_final_state(fake_squeue, monkeypatch):
    for state in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED"):
        fake_squeue.set("77", state)
        assert job_gone("77") is False, state
    for state in ("COMPLETED", "CANCELLED", "TIMEOUT", "NODE_FAIL", ""):
        fake_squeue.set("77", state)
        assert job_gone("77") is True, state
    fake_squeue.forget("77")
    assert job_gone("77") is True  # "Invalid job id specified": long gone
    assert fake_squeue.calls[-1] == "-h -j 77 -o %T"
    fake_squeue.down()
    assert job_gone("77") is None  # no controller: the queue cannot say
    monkeypatch.setenv("PATH", str(fake_squeue.directory / "nothing"))
    assert job_gone("77") is None  # no squeue at all
