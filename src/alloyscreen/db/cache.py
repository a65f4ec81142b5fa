"""Run work once per input hash, ever, across processes and machines.

A worker claims a key by inserting a lock document whose ``_id`` is unique;
the result document is written in one insert when the work ends, so a result
collection never holds half-written work. A second worker asking for the same
key waits for the first's result and reuses it. A lock whose holder died
(same host and dead pid; another host and a SLURM job the queue says has
ended; or no heartbeat for ``stale_seconds``) is taken over, and the work the
holder did is recorded in ``lost_attempts`` (:func:`lost_core_hours`).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from alloyscreen import slurm
from alloyscreen.db.documents import insert_document
from alloyscreen.db.server import pid_alive
from alloyscreen.errors import AlloyscreenError, DatabaseError
from alloyscreen.schemas.lock import LostAttempt, LostReason

LOCKS = "locks"
LOST_ATTEMPTS = "lost_attempts"


class LockHeldError(AlloyscreenError):
    """Work that runs once at a time (e.g. a campaign) is held by a live process."""


def _database_gone(error: BaseException | None) -> bool:
    """Whether ``error`` (or an error it came from) says the database cannot be reached."""
    while error is not None:
        if isinstance(error, PyMongoError | DatabaseError):
            return True
        error = error.__cause__ or error.__context__
    return False


def _now() -> datetime:
    return datetime.now(UTC)


def _record_lost(database: Database, lock: dict[str, Any], reason: LostReason) -> None:
    """Store the work the dead holder of ``lock`` did in ``lost_attempts``: its core-hours are spent."""
    started = lock.get("acquired") or lock["heartbeat"]  # a lock of an older worker: nothing counted
    hours = max((lock["heartbeat"] - started).total_seconds(), 0.0) / 3600  # a clock stepped back counts nothing
    cores = lock.get("cores")
    attempt = LostAttempt(
        id=f"{lock['_id']}:{lock['token']}", collection=lock["collection"], key=lock["key"], host=lock["host"],
        pid=lock["pid"], slurm_job_id=lock.get("slurm_job_id"), reason=reason, started=started,
        heartbeat=lock["heartbeat"], cores=cores, core_hours=None if cores is None else hours * cores)
    insert_document(database[LOST_ATTEMPTS], attempt.model_dump(by_alias=True))


def lost_core_hours(database: Database, collection: str, keys: Iterable[str]) -> float:
    """Return the core-hours lost with dead holders of the work at ``keys`` of ``collection`` (unknown cores: 0)."""
    lost = database[LOST_ATTEMPTS].find({"collection": collection, "key": {"$in": list(keys)}}, {"core_hours": 1})
    return float(sum(attempt.get("core_hours") or 0.0 for attempt in lost))


class _Heartbeat:
    """Refresh a lock's heartbeat from a daemon thread while the work runs."""

    def __init__(self, locks: Collection, lock_id: str, owner: dict[str, Any], every_s: float):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(locks, lock_id, owner, every_s), daemon=True)

    def _beat(self, locks: Collection, lock_id: str, owner: dict[str, Any], every_s: float) -> None:
        while not self._stop.wait(every_s):
            with suppress(PyMongoError):  # the database is away: the work's own next call says so
                locks.update_one({"_id": lock_id, "token": owner["token"]}, {"$set": {"heartbeat": _now()}})

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)  # a beat waiting on a database that went away is left to end alone


class WorkCache:
    """Compute-once cache over a result collection whose ``_id`` is the input hash.

    A waiter asks SLURM about the job of a holder on another host at most
    every ``queue_seconds``.
    """

    def __init__(self, collection: Collection, poll_seconds: float = 0.5, stale_seconds: float = 120.0,
                 queue_seconds: float = 5.0):
        self.collection = collection
        self.locks = collection.database[LOCKS]
        self.poll_seconds = poll_seconds
        self.stale_seconds = stale_seconds
        self.queue_seconds = queue_seconds
        self._asked: dict[str, tuple[float, bool | None]] = {}  # job id -> (monotonic time, job_gone's answer)

    def _lock_id(self, key: str) -> str:
        return f"{self.collection.name}:{key}"

    def get(self, key: str) -> dict[str, Any] | None:
        """Return the finished document for ``key``, or None."""
        return self.collection.find_one({"_id": key})

    def holder(self, key: str) -> tuple[dict[str, Any], bool] | None:
        """Return the lock on ``key`` and whether its holder is gone (stale), or None when nobody holds it."""
        lock = self.locks.find_one({"_id": self._lock_id(key)})
        return None if lock is None else (lock, self._lost_reason(lock) is not None)

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Hold the lock on ``key`` while the block runs (heartbeat kept); a stale lock is taken over.

        Raises
        ------
        LockHeldError
            A live holder has it (one line naming it).
        """
        owner = self._owner()
        if not self._claim(key, owner):
            held = self.holder(key)
            who = f"pid {held[0]['pid']} on {held[0]['host']}" if held else "another process"
            raise LockHeldError(f"{self.collection.name[:-1]} {key} is in use by {who}; wait for it to end "
                                f"(or stop it) and run again")
        with self._holding(key, owner):
            yield

    @contextmanager
    def _holding(self, key: str, owner: dict[str, Any]) -> Iterator[None]:
        """Keep a claimed lock's heartbeat while the block runs, then release it.

        When the block failed because the database went away, the lock is left
        (waiting for the database would only delay the message); the next
        claim takes it over as stale.
        """
        lock_id, release = self._lock_id(key), True
        try:
            with _Heartbeat(self.locks, lock_id, owner, every_s=self.stale_seconds / 4):
                yield
        except BaseException as error:
            release = not _database_gone(error)
            raise
        finally:
            if release:
                self.locks.delete_one({"_id": lock_id, "token": owner["token"]})

    def running(self) -> list[dict[str, Any]]:
        """Return the locks of work in progress on this collection."""
        return list(self.locks.find({"collection": self.collection.name}))

    def _owner(self) -> dict[str, Any]:
        return {"host": socket.gethostname(), "pid": os.getpid(), "token": os.urandom(8).hex(),
                "slurm_job_id": slurm.job_id(), "cores": slurm.allocated_cores()}

    def _job_gone(self, job: str) -> bool | None:
        """Return :func:`alloyscreen.slurm.job_gone` of ``job``, asked at most every ``queue_seconds``."""
        asked = self._asked.get(job)
        if asked is None or time.monotonic() - asked[0] >= self.queue_seconds:
            asked = self._asked[job] = (time.monotonic(), slurm.job_gone(job))
        return asked[1]

    def _lost_reason(self, lock: dict[str, Any]) -> LostReason | None:
        """Return why the holder of ``lock`` is gone, or None while it may still run."""
        here = lock.get("host") == socket.gethostname()
        if here and not pid_alive(int(lock.get("pid", -1))):
            return "dead pid"
        job = lock.get("slurm_job_id")
        if not here and job and self._job_gone(job):
            return "job gone"
        heartbeat = lock["heartbeat"]
        if heartbeat.tzinfo is None:
            heartbeat = heartbeat.replace(tzinfo=UTC)
        return "stale heartbeat" if _now() - heartbeat > timedelta(seconds=self.stale_seconds) else None

    def _claim(self, key: str, owner: dict[str, Any]) -> bool:
        """Claim ``key``: insert its lock, or take over the lock of a holder that is gone (recording its loss)."""
        lock_id, now = self._lock_id(key), _now()
        lock = {"_id": lock_id, "collection": self.collection.name, "key": key, "acquired": now, "heartbeat": now,
                **owner}
        try:
            self.locks.insert_one(lock)
            return True
        except DuplicateKeyError:
            held = self.locks.find_one({"_id": lock_id})
            reason = None if held is None else self._lost_reason(held)
            if held is None or reason is None:
                return False
            taken = self.locks.find_one_and_replace({"_id": lock_id, "token": held["token"]}, lock)
            if taken is None:
                return False
            try:
                _record_lost(self.locks.database, taken, reason)
            except BaseException:  # not recorded: do not hold the work either
                self.locks.delete_one({"_id": lock_id, "token": owner["token"]})
                raise
            return True

    def run_once(
        self,
        key: str,
        compute: Callable[[], dict[str, Any]],
        claim: dict[str, Any] | None = None,
        wait_timeout_s: float | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Return ``(document, reused)``: the stored result for ``key``, computing it at most once.

        ``compute()`` returns the result fields; the stored document is
        ``{"_id": key, **claim, **result}``. When ``compute`` raises, nothing
        is stored, the lock is released and the exception propagates.
        """
        owner = self._owner()
        started = time.monotonic()
        while True:
            done = self.get(key)
            if done is not None:
                return done, True
            if self._claim(key, owner):
                break
            if wait_timeout_s is not None and time.monotonic() - started > wait_timeout_s:
                raise DatabaseError(
                    f"gave up after {wait_timeout_s} s waiting for {self._lock_id(key)} held by another worker"
                )
            time.sleep(self.poll_seconds)
        with self._holding(key, owner):
            done = self.get(key)  # finished between our look and our claim
            if done is not None:
                return done, True
            result = compute()
            document = {**(claim or {}), **result, "_id": key}
            insert_document(self.collection, document)
            return self.get(key) or document, False
