import multiprocessing
import os
import socket
import time
from datetime import UTC, datetime

import pytest

from alloyscreen.db.cache import WorkCache
from alloyscreen.db.client import get_database


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


def test_lock_of_a_dead_process_is_taken_over(database):
    cache = WorkCache(_collection(database, "cache_stale"), poll_seconds=0.05)
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    cache.locks.insert_one({"_id": "cache_stale:k3", "collection": "cache_stale", "key": "k3",
                            "heartbeat": datetime.now(UTC), "host": socket.gethostname(),
                            "pid": dead, "token": "old"})
    document, reused = cache.run_once("k3", lambda: {"status": "completed"}, wait_timeout_s=5)
    assert not reused and document["status"] == "completed"


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
