"""Fault injection on the real command line: kill -9, concurrent runs, a database killed mid-run, bad input.

Every scenario runs ``alloyscreen run --quiet SPEC`` (a small EMT campaign) on
the embedded database in a fresh data directory and compares what is stored
with an uninterrupted reference run of the same spec (campaign ids and
document ids are content hashes, so the same work gives the same ids):

- ``kill``: ``kill -9`` after a seeded random delay (20-90 % of the reference's
  wall time), then the same command again. Reported per run: documents lost
  (reference ids missing) and extra (ids the reference does not have),
  selections duplicated (one candidate twice in a stage and round),
  calculations in flight at the kill (their locks: the only work done twice),
  and whether ``top`` matches; ``extra_job_outputs`` counts jobflow output
  documents beyond the reference's (a rerun replaces its earlier runs' outputs).
- ``concurrent``: two runs started together; one is refused (one line) or
  both finish, with nothing duplicated.
- ``database``: the embedded server is killed mid-run; the time until the run
  stops and its last line; then a rerun resumes.
- ``user_database``: the same with a user URI (``ALLOYSCREEN_MONGO_URI``, a
  separate ``secantusd-py``), restarted on its port before the rerun.
- ``bad_input``: each bad spec or argument of issue 12: exit code, the lines
  printed, documents written.

    python benchmarks/faults.py [--kills 20] [--seed 0] [--skip concurrent,database,user_database] [--quick]

Prints one JSON object. Goal: 0 lost, 0 duplicated, every bad input one line
and nothing written. ``--quick`` (a check of the script, not a figure): every
scenario once, side by side (each in its own data directory; bad input beside
the reference run), on ``QUICK_SPEC`` (9 candidates, 7 EMT labels relaxed to
0.1 eV/Å, 10 calculations), with ``QUICK_BAD_INPUTS`` (4 of the bad inputs) and
a 2 s server timeout. A kill (of a run or a database) falls once the run has
stored a seeded share (20-90 %; 50 % for a database) of the reference's
calculations, not after that share of its wall time, which with the scenarios
side by side could fall before the run did anything. The embedded server is
started in this process (``server.start``, what ``alloyscreen db start`` runs,
without another interpreter's imports) and killed, not stopped (its data is
thrown away). Still 18 ``alloyscreen`` processes of 3 to 7 s of CPU each
(about 3 s of it imports): about 75 s on 2 cores with one of them busy elsewhere.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from alloyscreen.db import server as embedded
from alloyscreen.settings import Settings

BIN = Path(sys.executable).parent / "alloyscreen"
COLLECTIONS = ("campaigns", "candidates", "structures", "calculations", "labels", "models", "predictions",
               "selections")
SPEC: dict[str, Any] = {
    "name": "faults", "seed": 5,
    "candidates": {"elements": ["Cu", "Ni", "Pd", "Au"], "n_components": [2, 3],
                   "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"},
    "initial_random": 4, "acquisition": {"batch_size": 2, "strategy": "ucb"},
    "stopping": {"max_rounds": 6, "patience": 3, "top_k": 3},
    "stages": [{"name": "emt", "calculator": "emt", "max_validations": 10,
                "structure": {"method": "random", "supercell": [1, 1, 1]}},
               {"name": "emt-sqs", "calculator": "emt", "max_validations": 2,
                "structure": {"method": "sqs", "supercell": [2, 2, 2], "iterations": 2000}}],
}
QUICK_SPEC: dict[str, Any] = {
    **SPEC, "candidates": {"elements": ["Cu", "Ni", "Pd"], "n_components": 2,
                           "sampling": {"kind": "grid", "step": 0.25}, "prototype": "fcc"},
    "initial_random": 5, "acquisition": {"batch_size": 1, "strategy": "ucb"},
    "stopping": {"max_rounds": 2, "patience": 2, "top_k": 2},
    "stages": [{"name": "emt", "calculator": "emt", "max_validations": 6, "settings": {"fmax": 0.1},
                "structure": {"method": "random", "supercell": [1, 1, 1]}},
               {"name": "emt-sqs", "calculator": "emt", "max_validations": 1, "settings": {"fmax": 0.1},
                "structure": {"method": "sqs", "supercell": [2, 1, 1], "iterations": 200}}],
}
QUICK_BAD_INPUTS = ("unknown element Xx", "1.14e18 candidates", "non-UTF-8 spec", "top -n -1")
QUICK_SERVER_TIMEOUT_MS = 2000  # the database scenarios' wait for a server that went away (default 5000)


class Place:
    """A fresh data directory (embedded database, or the user URI ``uri``) and the spec file of one scenario.

    ``quick``: a shorter server timeout; the embedded server started in this process and killed, not stopped.
    """

    def __init__(self, root: Path, name: str, spec: dict[str, Any] | None = None, uri: str | None = None,
                 quick: bool = False):
        self.dir = root / name
        self.dir.mkdir(parents=True)
        self.spec = self.dir / "spec.yaml"
        self.campaign = (spec or SPEC)["name"]
        self.spec.write_text(yaml.safe_dump(spec or SPEC))
        self.uri = uri
        self.quick = quick
        self.env = {**os.environ, "ALLOYSCREEN_DATA_DIR": str(self.dir / "data"), "ALLOYSCREEN_DB_NAME": "faults"}
        self.env.pop("ALLOYSCREEN_MONGO_URI", None)
        if uri:
            self.env["ALLOYSCREEN_MONGO_URI"] = uri
        if quick:
            self.env["ALLOYSCREEN_SERVER_TIMEOUT_MS"] = str(QUICK_SERVER_TIMEOUT_MS)

    def command(self, *args: str) -> list[str]:
        """The ``alloyscreen`` command line."""
        return [str(BIN), *args]

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run ``alloyscreen ARGS`` here to its end."""
        return subprocess.run(self.command(*args), env=self.env, capture_output=True, text=True, timeout=timeout)

    def start(self, *args: str) -> subprocess.Popen:
        """Start ``alloyscreen ARGS`` here."""
        return subprocess.Popen(self.command(*args), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    def server(self) -> dict[str, Any] | None:
        """The embedded server's ``server.json``, if one was started."""
        path = next((self.dir / "data").rglob("server.json"), None)
        return json.loads(path.read_text()) if path else None

    def start_server(self) -> str:
        """Start the embedded server (``alloyscreen db start``; quick: its ``server.start`` here); return its URI."""
        if self.quick:
            state = embedded.start(Settings(data_dir=self.dir / "data", db_name="faults"))
            return f"mongodb://127.0.0.1:{state.port}/?directConnection=true"
        self.run("db", "start", timeout=60)
        server = self.server()
        assert server is not None, "the embedded server did not start"
        return f"mongodb://127.0.0.1:{server['port']}/?directConnection=true"

    def wait_for_calculations(self, process: subprocess.Popen, count: int) -> None:
        """Return once ``count`` calculations are stored here, or the run ``process`` has ended (quick's kill point)."""
        client: MongoClient | None = None
        try:
            while process.poll() is None:
                if client is None:
                    try:
                        server = self.server()
                    except ValueError:  # server.json being written
                        server = None
                    uri = self.uri or (server and f"mongodb://127.0.0.1:{server['port']}/?directConnection=true")
                    client = MongoClient(uri, serverSelectionTimeoutMS=QUICK_SERVER_TIMEOUT_MS) if uri else None
                try:
                    if client is not None and client["faults"]["calculations"].count_documents({}) >= count:
                        return
                except PyMongoError:
                    pass
                time.sleep(0.05)
        finally:
            if client is not None:
                client.close()

    def stored(self) -> dict[str, Any]:
        """Ids of every collection, duplicated selections, held locks and the number of jobflow outputs.

        Starts the embedded server if needed.
        """
        uri = self.uri or self.start_server()
        with MongoClient(uri) as client:
            db = client["faults"]
            keys = Counter((s["stage"], s["round"], s["candidate_id"]) for s in db["selections"].find())
            return {"ids": {name: sorted(str(d["_id"]) for d in db[name].find({}, {"_id": 1})) for name in COLLECTIONS},
                    "duplicated_selections": sum(n - 1 for n in keys.values() if n > 1),
                    "locks": [lock["_id"] for lock in db["locks"].find()],
                    "job_outputs": db["jobflow_outputs"].count_documents({})}

    def top(self) -> list[str]:
        """The campaign's best candidates (ids)."""
        result = self.run("top", self.campaign, "-n", "5", "--json", timeout=120)
        return [row["candidate_id"] for row in json.loads(result.stdout or "[]")]

    def stop(self) -> None:
        """Stop the embedded server (quick: kill it; its data is thrown away, and a stop waits about 2 s)."""
        if not self.quick:
            self.run("db", "stop", timeout=60)
            return
        server = self.server()
        if server is not None and embedded.pid_alive(server["pid"]):
            os.kill(server["pid"], signal.SIGKILL)
            while embedded.pid_alive(server["pid"]):
                time.sleep(0.01)


def compare(reference: dict[str, Any], got: dict[str, Any]) -> dict[str, int]:
    """Documents lost and extra per collection (summed), duplicated selections, jobflow outputs beyond the reference."""
    lost = sum(len(set(reference["ids"][n]) - set(got["ids"][n])) for n in COLLECTIONS)
    extra = sum(len(set(got["ids"][n]) - set(reference["ids"][n])) for n in COLLECTIONS)
    return {"lost": lost, "extra": extra, "duplicated_selections": got["duplicated_selections"],
            "extra_job_outputs": got["job_outputs"] - reference["job_outputs"]}


def reference_run(root: Path, spec: dict[str, Any], quick: bool = False) -> dict[str, Any]:
    """The uninterrupted run of ``spec``: its wall time, stored ids and top (and the spec, for the other runs)."""
    place = Place(root, "reference", spec, quick=quick)
    start = time.perf_counter()
    result = place.run("run", "--quiet", str(place.spec))
    wall = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    stored, top = place.stored(), place.top()
    place.stop()
    return {"wall_s": wall, "stored": stored, "top": top, "spec": spec, "quick": quick}


def mid_run(place: Place, process: subprocess.Popen, reference: dict[str, Any], share: float) -> float:
    """Wait until ``share`` of the run ``process`` is done; return the seconds waited.

    The full run waits ``share`` of the reference's wall time; a quick one until that share of the reference's
    calculations is stored (its scenarios run side by side: a share of the wall time could fall before the run
    did anything).
    """
    if not reference["quick"]:
        time.sleep(share * reference["wall_s"])
        return share * reference["wall_s"]
    start = time.perf_counter()
    place.wait_for_calculations(process, max(1, int(share * len(reference["stored"]["ids"]["calculations"]))))
    return time.perf_counter() - start


def kill_runs(root: Path, reference: dict[str, Any], kills: int, seed: int) -> list[dict[str, Any]]:
    """``kill -9`` each run after a random delay, then run again; compare with the reference."""
    shares = np.random.default_rng(seed).uniform(0.2, 0.9, kills)
    rows = []
    for index, share in enumerate(shares):
        place = Place(root, f"kill-{index}", reference["spec"], quick=reference["quick"])
        process = place.start("run", "--quiet", str(place.spec))
        delay = mid_run(place, process, reference, share)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        in_flight = place.stored()["locks"]
        resumed = place.run("run", "--quiet", str(place.spec))
        row = {"delay_s": round(float(delay), 2), "resume_exit": resumed.returncode,
               "in_flight_at_kill": len(in_flight), **compare(reference["stored"], place.stored()),
               "same_top": place.top() == reference["top"]}
        place.stop()
        rows.append(row)
    return rows


def kill_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The kill runs and their sums."""
    return {"runs": rows, "lost": sum(r["lost"] for r in rows), "extra": sum(r["extra"] for r in rows),
            "duplicated_selections": sum(r["duplicated_selections"] for r in rows),
            "extra_job_outputs": sum(r["extra_job_outputs"] for r in rows),
            "in_flight_at_kill": sum(r["in_flight_at_kill"] for r in rows),
            "same_top": sum(r["same_top"] for r in rows)}


def concurrent_runs(root: Path, reference: dict[str, Any]) -> dict[str, Any]:
    """Two runs of one campaign started together."""
    place = Place(root, "concurrent", reference["spec"], quick=reference["quick"])
    place.start_server()  # both runs find the server up
    processes = [place.start("run", "--quiet", str(place.spec)) for _ in range(2)]
    outputs = [process.communicate() for process in processes]
    result = {"exits": [process.returncode for process in processes],
              "refused": [err.strip().splitlines()[-1] for (_, err), p in zip(outputs, processes, strict=True)
                          if p.returncode != 0],
              **compare(reference["stored"], place.stored()), "same_top": place.top() == reference["top"]}
    place.stop()
    return result


def _user_server(storage: Path, port: int) -> subprocess.Popen:
    """Start a stand-alone ``secantusd-py`` (a user's own database) and wait until it answers."""
    process = subprocess.Popen([str(BIN.parent / "secantusd-py"), "--port", str(port), "--storage-path",
                                str(storage)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=30000) as client:
        client.admin.command("ping")
    return process


def user_database_killed(root: Path, reference: dict[str, Any]) -> dict[str, Any]:
    """Kill a user-URI database mid-run (5 s server timeout): time to the run's message; restart it and resume."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    place = Place(root, "user-database", reference["spec"],
                  uri=f"mongodb://127.0.0.1:{port}/?directConnection=true&journal=true", quick=reference["quick"])
    storage = place.dir / "user-db"
    server = _user_server(storage, port)
    process = place.start("run", "--quiet", str(place.spec))
    mid_run(place, process, reference, 0.5)
    server.kill()
    server.wait()
    killed = time.perf_counter()
    _, err = process.communicate(timeout=600)
    stopped_after = time.perf_counter() - killed
    server = _user_server(storage, port)
    try:
        resumed = place.run("run", "--quiet", str(place.spec))
        return {"exit": process.returncode, "seconds_to_message": round(stopped_after, 1),
                "message": (err.strip().splitlines() or [""])[-1], "resume_exit": resumed.returncode,
                **compare(reference["stored"], place.stored()), "same_top": place.top() == reference["top"]}
    finally:
        if place.quick:  # its data is thrown away
            server.kill()
        else:
            server.terminate()
        server.wait()


def database_killed(root: Path, reference: dict[str, Any]) -> dict[str, Any]:
    """Kill the embedded server mid-run: how long until the run says so, what it says; then resume."""
    place = Place(root, "database", reference["spec"], quick=reference["quick"])
    place.start_server()
    process = place.start("run", "--quiet", str(place.spec))
    mid_run(place, process, reference, 0.5)
    state = place.server()
    assert state is not None
    os.kill(state["pid"], signal.SIGKILL)
    killed = time.perf_counter()
    _, err = process.communicate(timeout=600)
    stopped_after = time.perf_counter() - killed
    resumed = place.run("run", "--quiet", str(place.spec))
    result = {"exit": process.returncode, "seconds_to_message": round(stopped_after, 1),
              "message": (err.strip().splitlines() or [""])[-1], "resume_exit": resumed.returncode,
              **compare(reference["stored"], place.stored()), "same_top": place.top() == reference["top"]}
    place.stop()
    return result


def _spec_with(**changes: Any) -> dict[str, Any]:
    spec = yaml.safe_load(yaml.safe_dump(SPEC))
    for where, value in changes.items():
        *path, key = where.split("__")
        inner = spec
        for part in path:
            inner = inner[int(part)] if part.isdigit() else inner[part]
        inner[key] = value
    return spec


BAD_SPECS: dict[str, dict[str, Any]] = {
    "unknown element Xx": _spec_with(candidates__elements=["Cu", "Xx"]),
    "grid step 0": _spec_with(candidates__sampling__step=0),
    "grid step -0.25": _spec_with(candidates__sampling__step=-0.25),
    "more components than elements": _spec_with(candidates__n_components=6),
    "bounds nothing meets": _spec_with(candidates__min_fraction={"Cu": 0.8, "Ni": 0.8},
                                       candidates__required=["Cu", "Ni"]),
    "EMT over Fe and Ti": _spec_with(candidates__elements=["Cu", "Ni", "Fe", "Ti"]),
    "unknown strategy": _spec_with(acquisition__strategy="bogus"),
    "1.14e18 candidates": _spec_with(candidates__elements=[
        "H", "Li", "Be", "Na", "Mg", "Al", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga",
        "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Hf", "Ta", "W", "Re", "Os",
        "Ir", "Pt", "Au"], candidates__n_components=8, candidates__sampling__step=0.01,
        stages__0__calculator="chgnet", stages__1__calculator="chgnet"),
}


def bad_inputs(root: Path, quick: bool = False) -> list[dict[str, Any]]:
    """Every bad input (quick: ``QUICK_BAD_INPUTS``): exit code, lines printed, documents written."""
    place = Place(root, "bad", quick=quick)
    before = place.stored()["ids"]
    rows = []
    cases: list[tuple[str, list[str]]] = []
    for name, spec in BAD_SPECS.items():
        path = place.dir / f"{len(cases)}.yaml"
        path.write_text(yaml.safe_dump(spec))
        cases.append((name, ["run", "--quiet", str(path)]))
    latin = place.dir / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    cases += [("non-UTF-8 spec", ["run", str(latin)]), ("top -n -1", ["top", "faults", "-n", "-1"])]
    if quick:
        cases = [(name, args) for name, args in cases if name in QUICK_BAD_INPUTS]
    for name, args in cases:
        result = place.run(*args)
        lines = result.stderr.strip().splitlines()
        after = place.stored()["ids"]
        rows.append({"input": name, "exit": result.returncode, "lines": len(lines), "message": lines[-1] if lines
                     else "", "documents_written": sum(len(after[n]) - len(before[n]) for n in COLLECTIONS)})
        before = after
    place.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", default="", help="comma-separated scenarios to skip: kill, concurrent, "
                                                   "database, user_database, bad_input")
    parser.add_argument("--quick", action="store_true",
                        help="QUICK_SPEC (9 candidates), one kill, 4 bad inputs, the scenarios side by side")
    args = parser.parse_args()
    if args.quick:
        parser.set_defaults(kills=1)  # what is given explicitly still counts
        args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    with tempfile.TemporaryDirectory(prefix="alloyscreen-faults-") as folder, ThreadPoolExecutor(5) as pool:
        root = Path(folder)
        # --quick: the scenarios side by side, each in its own data dir; bad input (no reference needed) at once
        early = pool.submit(bad_inputs, root, True) if args.quick and "bad_input" not in skip else None
        reference = reference_run(root, QUICK_SPEC if args.quick else SPEC, args.quick)
        report: dict[str, Any] = {"reference": {"wall_s": round(reference["wall_s"], 1), "top": reference["top"],
                                                "documents": {n: len(ids) for n, ids in
                                                              reference["stored"]["ids"].items()}}}
        scenarios: dict[str, Callable[[], Any]] = {
            "kill": partial(kill_runs, root, reference, args.kills, args.seed),
            "concurrent": partial(concurrent_runs, root, reference),
            "database": partial(database_killed, root, reference),
            "user_database": partial(user_database_killed, root, reference),
            "bad_input": partial(bad_inputs, root, args.quick)}
        if args.quick:
            futures: dict[str, Future] = {name: pool.submit(scenario) for name, scenario in scenarios.items()
                                          if name not in skip | {"bad_input"}}
            if early is not None:
                futures["bad_input"] = early
            results = {name: future.result() for name, future in futures.items()}
        else:
            results = {name: scenario() for name, scenario in scenarios.items() if name not in skip}
        for name, result in results.items():
            report[name] = kill_summary(result) if name == "kill" else result
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
