"""One validation Maker for every calculator, and the cached calculation behind it.

The calculation id is the content hash of (structure, calculator, resolved
physics settings, code version): the same work is computed once, ever, through
:class:`alloyscreen.db.cache.WorkCache`, and reused afterwards (``reused``).
:func:`validate_many` computes the static calculations of many structures in
batched model calls where the calculator offers them, as the same documents.
"""

from __future__ import annotations

import socket
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from jobflow import Flow, Job, Maker, Response, job
from pydantic import BaseModel, Field
from pymatgen.core import Structure

from alloyscreen.hashing import content_hash
from alloyscreen.schemas.calculation import CalculationDocument
from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.validation.ase_runner import Retry, fixed_atoms
from alloyscreen.validation.base import Calculator, SettingsError, check_mode, structure_dict
from alloyscreen.validation.physics import HOST_SPECIFIC
from alloyscreen.validation.registry import get_calculator
from alloyscreen.validation.vasp import VaspCalculator


class ValidationOutput(BaseModel):
    """Output of a validation job: the calculation document and whether it came from the cache."""

    calculation: CalculationDocument = Field(description="the stored calculation")
    reused: bool = Field(description="True when the calculation was found in the cache and not run")
    candidate_id: str | None = Field(None, description="candidate the structure belongs to, if any")


def structure_identity(structure: Structure) -> dict[str, Any]:
    """Return what identifies a structure for hashing.

    Lattice, species, wrapped fractional coordinates and, when given, which
    atoms are held fixed and the starting magnetic moments of the sites.
    """
    frac = np.round(np.mod(structure.frac_coords, 1.0), 8) % 1.0
    identity = {
        "lattice": structure.lattice.matrix,
        "pbc": list(structure.lattice.pbc),
        "species": [site.species.formula for site in structure],
        "frac_coords": frac,
    }
    constraints = fixed_atoms(structure)
    if constraints is not None:
        identity.update(constraints)
    if "magmom" in structure.site_properties:  # starting moments (e.g. an antiferromagnetic start)
        identity["magmoms"] = np.round(np.asarray(structure.site_properties["magmom"], dtype=float), 6)
    return identity


def calculation_id(structure: Structure, calculator: str, physics: dict[str, Any], code_version: str) -> str:
    """Return the content-hash ``_id`` of a calculation (host-specific settings, e.g. file paths, left out)."""
    return content_hash({
        "structure": structure_identity(structure), "calculator": calculator,
        "settings": {key: value for key, value in physics.items() if key not in HOST_SPECIFIC},
        "code_version": code_version,
    })


def _calculations(database):
    if database is None:
        from alloyscreen.db.client import get_database

        database = get_database()
    return database["calculations"]


def stored_calculations(keys: list[str], database=None) -> dict[str, dict[str, Any]]:
    """The stored documents (finished or failed) of the calculations ``keys``, by id: one query."""
    return {found["_id"]: found for found in _calculations(database).find({"_id": {"$in": keys}})}


@dataclass(frozen=True)
class Prepared:
    """A calculation checked before it runs (:func:`prepare`): what :func:`run_prepared` needs, nothing to redo."""

    structure: Structure
    calc: Calculator
    physics: dict[str, Any]
    run: dict[str, Any]
    key: str
    claim: dict[str, Any]


def prepare(structure: Structure, calculator: str, settings: dict[str, Any] | None, mode: str) -> Prepared:
    """Check everything that can be checked before running: settings resolved, the calculation's id and claim."""
    check_mode(mode)
    calc = get_calculator(calculator)
    physics, run = calc.resolve(structure, dict(settings or {}), mode)
    version = calc.code_version(physics, run)
    key = calculation_id(structure, calc.name, physics, version)
    claim = {
        "calculator": calc.name, "settings": physics, "code_version": version,
        "formula": structure.composition.reduced_formula, "n_atoms": len(structure),
        "input_structure": structure_dict(structure),
    }
    return Prepared(structure, calc, physics, run, key, claim)


def _claimed(prepared: Prepared, parents: list[str] | tuple[str, ...], campaign_id: str | None) -> dict[str, Any]:
    """The claim of a calculation run in this process, with its provenance; a workflow-only calculator is refused."""
    if prepared.calc.remote:
        raise SettingsError(f"calculator {prepared.calc.name!r} runs only as a workflow: use "
                            f"ValidationMaker(calculator={prepared.calc.name!r})")
    provenance = current_job_provenance(input_hash=prepared.key, parents=list(parents), campaign_id=campaign_id)
    return {**prepared.claim, "provenance": provenance.model_dump()}


def calculation_document(key: str, claim: dict[str, Any], fields: dict[str, Any], directory=None,
                         history: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stored form of finished calculation ``key`` without its ``_id`` (``directory``: where it ran, if kept)."""
    where = f"{socket.gethostname()}:{directory}" if directory is not None and directory.exists() else None
    document = CalculationDocument(id=key, **claim, **fields, directory=where, **(history or {})).to_mongo()
    document.pop("_id")
    return document


def validate(
    structure: Structure,
    calculator: str = "emt",
    settings: dict[str, Any] | None = None,
    mode: str = "vc-relax",
    database=None,
    parents: list[str] | tuple[str, ...] = (),
    campaign_id: str | None = None,
    retries: int = 0,
) -> tuple[CalculationDocument, bool]:
    """Compute (or reuse) one calculation; return (document, reused).

    Parameters
    ----------
    structure
        The structure to calculate.
    calculator
        Registry name: emt, chgnet or qe (vasp runs through :class:`ValidationMaker` only).
    settings
        Calculator settings; unknown keys are refused.
    mode
        ``static``, ``relax`` (positions) or ``vc-relax`` (positions and cell).
    database
        pymongo Database; default: the configured one, at call time.
    parents, campaign_id
        Provenance: ids of the documents the structure came from, the campaign.
    retries
        Times a failed calculation is run again (at once, or when the cache
        holds its failure with fewer attempts) before its failure is final.
        A failure the calculator knows how to correct (its ``retry``: an ASE
        relaxation stopped before its force criterion) runs again corrected,
        the correction recorded in ``corrections``; the id stays that of the
        settings asked for.
    """
    return run_prepared(prepare(structure, calculator, settings, mode), database, parents, campaign_id, retries)


def run_prepared(prepared: Prepared, database=None, parents: list[str] | tuple[str, ...] = (),
                 campaign_id: str | None = None, retries: int = 0) -> tuple[CalculationDocument, bool]:
    """:func:`validate` of a calculation :func:`prepare` checked already; return (document, reused)."""
    from alloyscreen.db.cache import WorkCache
    from alloyscreen.settings import get_settings

    structure, calc, physics, run, key = (prepared.structure, prepared.calc, prepared.physics, prepared.run,
                                          prepared.key)
    claim = _claimed(prepared, parents, campaign_id)
    collection = _calculations(database)
    history: dict[str, Any] = {}
    corrected: Retry | None = None  # the calculator's retry of the failure before, if it corrects that kind

    def compute() -> dict[str, Any]:
        directory = get_settings().runs_dir / calc.name / key
        if corrected is None:
            return calculation_document(key, claim, calc.run(structure, physics, run, directory), directory, history)
        fields = calc.run(corrected.structure, corrected.physics, run, directory)
        return calculation_document(key, claim, corrected.record(fields), directory, history)

    cache = WorkCache(collection)
    while True:
        raw, reused = cache.run_once(key, compute, claim)
        if not rerun_failure(collection, raw, retries, history):
            return CalculationDocument.from_mongo(raw), reused
        corrected = calc.retry(structure, physics, raw)


def validate_many(
    structures: list[Structure],
    calculator: str = "emt",
    settings: dict[str, Any] | None = None,
    mode: str = "static",
    database=None,
    parents: list[list[str]] | None = None,
    campaign_id: str | None = None,
) -> list[tuple[CalculationDocument, bool]]:
    """Compute (or reuse) the calculations of many structures; return (document, reused) of each, in order.

    Every structure is checked before anything runs. Static calculations of a
    calculator with ``predict_batch`` (chgnet, sevennet) that are neither cached
    nor running elsewhere are computed in one ``predict_batch`` call (batched
    model calls) and stored in one bulk insert, as the documents
    :func:`validate` stores (same ids, same fields); the others go through
    :func:`validate` one by one. ``parents``: each structure's provenance parents.
    """
    from alloyscreen.db.cache import LockHeldError, WorkCache
    from alloyscreen.db.documents import insert_many

    collection = _calculations(database)
    every_parents = parents if parents is not None else [[] for _ in structures]
    local = [prepare(structure, calculator, settings, mode) for structure in structures]
    claims = [_claimed(prepared, structure_parents, campaign_id)
              for prepared, structure_parents in zip(local, every_parents, strict=True)]
    keys = [prepared.key for prepared in local]

    computed: list[str] = []
    if local and mode == "static" and local[0].calc.batched:
        cached, cache = stored_calculations(keys, collection.database), WorkCache(collection)
        todo = {prepared.key: (prepared.structure, claim) for prepared, claim in zip(local, claims, strict=True)
                if prepared.key not in cached}
        with ExitStack() as held:
            for key in list(todo):
                try:
                    held.enter_context(cache.hold(key))
                except LockHeldError:  # running elsewhere: validate() below waits for its result
                    del todo[key]
            for key in stored_calculations(list(todo), collection.database):  # finished between our look and our claim
                del todo[key]
            if todo:
                calc, physics = local[0].calc, local[0].physics  # one physics: a potential's is the structure's too
                fields = calc.predict_batch([structure for structure, _ in todo.values()], physics)
                insert_many(collection, [{**calculation_document(key, claim, found), "_id": key}
                                         for (key, (_, claim)), found in zip(todo.items(), fields, strict=True)])
                computed = list(todo)
    done = stored_calculations(keys, collection.database)
    return [(CalculationDocument.from_mongo(done[prepared.key]), prepared.key not in computed)
            if prepared.key in done else run_prepared(prepared, database, structure_parents, campaign_id)
            for prepared, structure_parents in zip(local, every_parents, strict=True)]


def runs_again(found: dict[str, Any], retries: int) -> bool:
    """Whether the policy (``retries``) runs the stored calculation ``found`` again: a failure with attempts left."""
    return found["status"] == "failed" and int(found.get("attempts") or 1) <= retries


def rerun_failure(collection, found: dict[str, Any], retries: int, history: dict[str, Any]) -> bool:
    """Whether the policy runs the failed calculation ``found`` again; if so, remove it and fill ``history``.

    ``history`` receives the ``attempts`` and ``earlier_errors`` of the next attempt.
    """
    if not runs_again(found, retries):
        return False
    attempts = int(found.get("attempts") or 1)
    collection.delete_one({"_id": found["_id"], "status": "failed"})
    history.update(attempts=attempts + 1, earlier_errors=[*(found.get("earlier_errors") or []), found["error"]])
    return True


def routing(category: str | None, fworker: str | None) -> dict[str, str]:
    """Return the manager_config entries that route a job.

    FireWorks: ``_category``, ``_fworker``; jobflow-remote: ``worker`` (the category: one worker per category).
    """
    pairs = (("_category", category), ("_fworker", fworker), ("worker", category))
    return {key: value for key, value in pairs if value}


@job
def record_task(
    task, key: str, claim: dict[str, Any], candidate_id: str | None, parents: list[str],
    history: dict[str, Any] | None = None,
) -> ValidationOutput:
    """Store an atomate2 VASP task document as the calculation ``key`` (``history``: earlier failed attempts)."""
    from alloyscreen.db.cache import WorkCache

    calc = VaspCalculator()  # the one calculator that runs only as a workflow
    provenance = current_job_provenance(input_hash=key, parents=list(parents))
    full = {**claim, "provenance": provenance.model_dump()}

    def compute() -> dict[str, Any]:
        document = CalculationDocument(id=key, **full, **calc.fields_from_task(task), **(history or {})).to_mongo()
        document.pop("_id")
        return document

    raw, reused = WorkCache(_calculations(None)).run_once(key, compute, full)
    return ValidationOutput(calculation=CalculationDocument.from_mongo(raw), reused=reused, candidate_id=candidate_id)


def vasp_flow(structure: Structure, physics: dict[str, Any], key: str, claim: dict[str, Any],
              route: dict[str, str], candidate_id: str | None = None, parents: list[str] | None = None,
              history: dict[str, Any] | None = None) -> Flow:
    """Return the atomate2 VASP job(s) followed by the job recording their result, routed by ``route``."""
    calc = VaspCalculator()
    vasp = calc.maker(physics).make(structure)
    record = record_task(vasp.output, key, claim, candidate_id, list(parents or []), history)
    flow = Flow([vasp, record], output=record.output, name=f"vasp {claim['formula']}")
    flow.update_config({"manager_config": route})
    return flow


@job
def validation_job(
    structure: Structure, calculator: str, settings: dict[str, Any], mode: str,
    candidate_id: str | None = None, parents: list[str] | None = None, route: dict[str, str] | None = None,
    retries: int = 0, campaign_id: str | None = None,
):
    """Run (or reuse) one calculation; VASP replaces this job with atomate2's jobs on a cache miss.

    A VASP failure is rerun (up to ``retries``) when the label is asked for again.
    """
    prepared = prepare(structure, calculator, settings, mode)
    if prepared.calc.remote:
        from alloyscreen.db.cache import WorkCache

        history: dict[str, Any] = {}
        found = WorkCache(_calculations(None)).get(prepared.key)
        if found is not None and not rerun_failure(_calculations(None), found, retries, history):
            calculation = CalculationDocument.from_mongo(found)
            return ValidationOutput(calculation=calculation, reused=True, candidate_id=candidate_id)
        return Response(replace=vasp_flow(structure, prepared.physics, prepared.key, prepared.claim, route or {},
                                          candidate_id, parents, history))
    document, reused = run_prepared(prepared, parents=parents or (), retries=retries, campaign_id=campaign_id)
    return ValidationOutput(calculation=document, reused=reused, candidate_id=candidate_id)


@dataclass
class ValidationMaker(Maker):
    """Validate a structure with one calculator of the registry (emt, chgnet, sevennet, qe, vasp).

    Parameters
    ----------
    name
        Job name prefix.
    calculator
        Registry name of the calculator.
    settings
        Calculator settings (see each calculator's ``defaults`` and ``run_defaults``).
    relax, relax_cell
        Relax positions; relax the cell too (vc-relax). Neither: a static calculation.
    category, fworker
        FireWorks routing (``_category``, ``_fworker``); category default: the
        calculator's (``cheap`` for emt/chgnet, ``dft`` for qe/vasp).
    retries
        Times a failed calculation is run again before its failure is final;
        an ASE relaxation (emt, chgnet, sevennet) that stopped before its force
        criterion runs again with a recorded correction (twice the steps from
        its last geometry, then also BFGSLineSearch for FIRE).
    """

    name: str = "validate"
    calculator: str = "emt"
    settings: dict[str, Any] = field(default_factory=dict)
    relax: bool = True
    relax_cell: bool = True
    category: str | None = None
    fworker: str | None = None
    retries: int = 0

    @property
    def mode(self) -> str:
        """static, relax or vc-relax."""
        return "static" if not self.relax else "vc-relax" if self.relax_cell else "relax"

    def make(self, structure: Structure, candidate_id: str | None = None, parents: list[str] | None = None,
             campaign_id: str | None = None) -> Job:
        """Return the validation job of ``structure``; bad settings or structures fail here, in one line."""
        calc = get_calculator(self.calculator)
        calc.resolve(structure, dict(self.settings), self.mode)
        route = routing(self.category or calc.category, self.fworker)
        task = validation_job(
            structure, self.calculator, dict(self.settings), self.mode, candidate_id, list(parents or []), route,
            self.retries, campaign_id,
        )
        task.name = f"{self.name} {self.calculator} {structure.composition.reduced_formula}"
        task.update_config({"manager_config": route})
        return task


def call_here(made: Job | Flow) -> Any:
    """Execute the job ``made`` (every input given, no reference to another job's output) here; return its output.

    How a label Maker's single job runs inside the job that made it (a
    campaign's label job, a ranker) without a job store in between; a flow
    (one job per calculation: a workflow-only calculator, dG_H's sites) is
    refused.
    """
    if isinstance(made, Flow) or made.input_references:
        raise SettingsError(f"{made.name!r} is a workflow whose jobs wait for each other; allowed here: one job "
                            f"of a calculator that runs in this process")
    return made.function(*made.function_args, **made.function_kwargs)
