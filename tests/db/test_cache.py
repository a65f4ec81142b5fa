import multiprocessing
import os
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest

from alloyscreen.db.cache import LOST_ATTEMPTS, WorkCache, lost_core_hours
from alloyscreen.db.client import get_database
from alloyscreen.errors import DatabaseError


def _collection(database, name):
    database[name].drop()
    return database[name]


def test_second_call_reuses_the_first_result(database):
    cache = WorkCache(_collection(database, "cache_reuse"))
    calls = []

    def compute():
        calls.append(1)
        return {"status": "completed", "energy": -3.5}

    first, reused_first = cache.run_once("k1", compute, claim={"calculator": "emt"})
    second, reused_second = cache.run_once("k1", compute)
    assert (reused_first, reused_second) == (False, True)
    assert calls == [1]
    assert second == first == {"_id": "k1", "calculator": "emt", "status": "completed", "energy": -3.5}


def test_failed_compute_leaves_nothing_behind(database):
    cache = WorkCache(_collection(database, "cache_fail"))

    def broken():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        cache.run_once("k2", broken)
    assert cache.get("k2") is None
    assert cache.running() == []
    document, reused = cache.run_once("k2", lambda: {"status": "completed"})
    assert not reused and document["status"] == "completed"


def _held(cache, key, **fields):
    """Insert the lock of another holder of ``key`` (by default this process); return it."""
    now = datetime.now(UTC)
    lock = {"_id": f"{cache.collection.name}:{key}", "collection": cache.collection.name, "key": key,
            "acquired": now, "heartbeat": now, "host": socket.gethostname(), "pid": os.getpid(), "token": "old",
            **fields}
    cache.locks.insert_one(lock)
    return lock


def _lost(database, collection):
    return list(database[LOST_ATTEMPTS].find({"collection": collection}))


def test_lock_of_a_dead_process_is_taken_over(database):
    cache = WorkCache(_collection(database, "cache_stale"), poll_seconds=0.05)
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    _held(cache, "k3", pid=dead, slurm_job_id="55")
    document, reused = cache.run_once("k3", lambda: {"status": "completed"}, wait_timeout_s=5)
    assert not reused and document["status"] == "completed"
    [lost] = _lost(database, "cache_stale")
    assert (lost["key"], lost["pid"], lost["reason"], lost["cores"], lost["core_hours"]) == (
        "k3", dead, "dead pid", None, None)  # outside SLURM nobody knows its cores
    assert lost_core_hours(database, "cache_stale", ["k3"]) == 0.0


def test_lock_of_a_job_the_queue_says_ended_is_taken_over_at_once(database, fake_squeue, monkeypatch):
    cache = WorkCache(_collection(database, "cache_job"), poll_seconds=0.05, queue_seconds=0.3)
    database[LOST_ATTEMPTS].delete_many({"collection": "cache_job"})
    beat = datetime.now(UTC) - timedelta(seconds=10)  # fresh: the heartbeat alone would wait 110 s more
    _held(cache, "k4", host="node-elsewhere", pid=4242, slurm_job_id="77", cores=4,
          acquired=beat - timedelta(hours=1), heartbeat=beat)
    fake_squeue.set("77", "RUNNING")
    with pytest.raises(DatabaseError, match="gave up"):
        cache.run_once("k4", lambda: {"status": "completed"}, wait_timeout_s=1.0)
    assert 2 <= len(fake_squeue.calls) <= 5  # about 20 polls, the queue asked every 0.3 s
    fake_squeue.forget("77")  # scancel, node failure ...: the queue knows it no more
    monkeypatch.setenv("SLURM_JOB_ID", "88")
    monkeypatch.setenv("SLURM_CPUS_ON_NODE", "2")
    holding = []

    def compute():
        holding.append(cache.holder("k4"))
        return {"status": "completed"}

    started = time.monotonic()
    document, reused = cache.run_once("k4", compute, wait_timeout_s=5)
    assert not reused and time.monotonic() - started < 2
    [(lock, stale)] = holding
    assert (lock["slurm_job_id"], lock["cores"], lock["pid"], stale) == ("88", 2, os.getpid(), False)
    assert lock["acquired"] <= lock["heartbeat"]
    [lost] = _lost(database, "cache_job")
    assert (lost["host"], lost["slurm_job_id"], lost["reason"], lost["cores"]) == ("node-elsewhere", "77",
                                                                                  "job gone", 4)
    assert lost["core_hours"] == pytest.approx(4.0)  # 1 h x 4 cores
    assert lost_core_hours(database, "cache_job", ["k4", "k5"]) == pytest.approx(4.0)
    assert lost_core_hours(database, "cache_job", ["k5"]) == lost_core_hours(database, "cache_x", ["k4"]) == 0.0


def test_without_an_answer_from_the_queue_the_heartbeat_decides(database, fake_squeue, monkeypatch):
    cache = WorkCache(_collection(database, "cache_beat"), poll_seconds=0.05, stale_seconds=60, queue_seconds=0)
    database[LOST_ATTEMPTS].delete_many({"collection": "cache_beat"})
    _held(cache, "k6", host="node-elsewhere", pid=4242)
    with pytest.raises(DatabaseError, match="gave up"):
        cache.run_once("k6", lambda: {"status": "completed"}, wait_timeout_s=0.3)
    assert fake_squeue.calls == []  # no SLURM job to ask about
    cache.locks.update_one({"_id": "cache_beat:k6"}, {"$set": {"slurm_job_id": "78"}})
    fake_squeue.down()
    with pytest.raises(DatabaseError, match="gave up"):
        cache.run_once("k6", lambda: {"status": "completed"}, wait_timeout_s=0.3)
    assert fake_squeue.calls
    monkeypatch.setenv("PATH", str(fake_squeue.directory / "nothing"))  # no squeue at all
    with pytest.raises(DatabaseError, match="gave up"):
        cache.run_once("k6", lambda: {"status": "completed"}, wait_timeout_s=0.3)
    cache.locks.update_one({"_id": "cache_beat:k6"}, {"$set": {"heartbeat": datetime.now(UTC) - timedelta(seconds=61)}})
    document, reused = cache.run_once("k6", lambda: {"status": "completed"}, wait_timeout_s=5)
    assert not reused and document["status"] == "completed"
    [lost] = _lost(database, "cache_beat")
    assert (lost["slurm_job_id"], lost["reason"]) == ("78", "stale heartbeat")


def _worker(name: str, marker_dir: str, queue) -> None:
    cache = WorkCache(get_database()[name], poll_seconds=0.05)

    def compute():
        with open(os.path.join(marker_dir, f"ran-{os.getpid()}"), "w"):
            pass
        time.sleep(1.5)
        return {"status": "completed", "by": os.getpid()}

    document, reused = cache.run_once("shared", compute)
    queue.put((document["by"], reused))


def test_two_processes_compute_once(database, tmp_path):
    _collection(database, "cache_race")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_worker, args=("cache_race", str(tmp_path), queue)) for _ in range(2)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert len(list(tmp_path.glob("ran-*"))) == 1
    assert results[0][0] == results[1][0]
    assert sorted(reused for _, reused in results) == [False, True]
    assert database["cache_race"].count_documents({}) == 1
