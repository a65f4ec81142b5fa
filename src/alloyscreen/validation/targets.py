"""Derived targets: mixing energy against elemental references; the label documents every target shares.

References are ordinary calculations with the same calculator and physics
settings (checked when the label is built), so the calculation cache computes
each of them once and every label reuses them.

- mixing energy per atom: ``E/N - sum_i x_i mu_i``, ``mu_i`` the energy per atom
  of element ``i`` in its vc-relaxed ground-state crystal, or the lowest-energy
  of its vc-relaxed candidate crystals (``references``, see
  :mod:`alloyscreen.validation.references`; the choice enters the label's id);
- adsorption labels: :mod:`alloyscreen.validation.adsorption`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, cast

from jobflow import Flow, Job, Maker, job
from pymatgen.core import Structure

from alloyscreen.errors import AlloyscreenError
from alloyscreen.hashing import content_hash
from alloyscreen.schemas.calculation import CalculationDocument
from alloyscreen.schemas.label import LabelDocument
from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.schemas.selection import PropertyOutcome
from alloyscreen.validation.base import concurrent_runs
from alloyscreen.validation.maker import (
    Prepared,
    ValidationMaker,
    ValidationOutput,
    prepare,
    routing,
    run_prepared,
    runs_again,
    stored_calculations,
)
from alloyscreen.validation.physics import check_same_physics, pool_settings
from alloyscreen.validation.references import ElementReference, ReferenceChoice, choose_reference, reference_crystals
from alloyscreen.validation.registry import get_calculator, is_remote


def reference_energy_per_atom(structure: Structure, references: dict[str, ElementReference]) -> float:
    """Return ``sum_i x_i mu_i`` (eV/atom) of ``structure``'s composition against elemental ``references``."""
    return float(sum(float(x) * cast(float, references[el.symbol].calculation.energy_per_atom)
                     for el, x in structure.composition.fractional_composition.items()))


def mixing_energy_per_atom(calculation: CalculationDocument, references: dict[str, ElementReference]) -> float:
    """Return ``E/N - sum_i x_i mu_i`` (eV/atom) of ``calculation`` against elemental ``references``."""
    # completed calculations (the only ones labelled) carry both structures and energies
    structure = Structure.from_dict(cast(dict[str, Any], calculation.final_structure or calculation.input_structure))
    return float(cast(float, calculation.energy_per_atom) - reference_energy_per_atom(structure, references))


def store_label(label: LabelDocument, database=None) -> LabelDocument:
    """Insert ``label`` into ``labels`` (once: its id is a content hash); return it."""
    from alloyscreen.db.documents import insert_document

    if database is None:
        from alloyscreen.db.client import get_database

        database = get_database()
    insert_document(database["labels"], label)
    return label


def build_label(candidate_id, prop, value, unit, calculations: list[CalculationDocument],
                references: list[CalculationDocument], details=None,
                reference_choice: str | None = None) -> LabelDocument:
    """Return a label document whose id hashes its candidate, property, calculations (and ``reference_choice``).

    Raises
    ------
    PhysicsMismatchError
        The calculations and references differ in physics settings.
    """
    check_same_physics([*calculations, *references])
    calculator = calculations[0].calculator if calculations else references[0].calculator
    calc_ids, ref_ids = [c.id for c in calculations], [r.id for r in references]
    identity = {"candidate": candidate_id, "property": prop, "calculations": calc_ids, "references": ref_ids}
    if reference_choice is not None:  # ground-state and searched references are two labels, even if one crystal won
        identity["reference_choice"] = reference_choice
    key = content_hash(identity)
    return LabelDocument(
        id=key, candidate_id=candidate_id, property=prop, value=value, unit=unit, calculator=calculator,
        calculation_ids=calc_ids, reference_calculation_ids=ref_ids, details=details,
        provenance=current_job_provenance(input_hash=key, parents=calc_ids + ref_ids),
    )


def mixing_energy_outcome(calculation: CalculationDocument, reused: bool,
                          crystals: dict[str, dict[str, CalculationDocument]], candidate_id: str | None = None,
                          structure_id: str | None = None, *,
                          reference_choice: ReferenceChoice) -> PropertyOutcome:
    """Store (once) the mixing energy label of a finished calculation; return its outcome.

    ``crystals``: element -> crystal -> finished reference calculation, of which
    the lowest in energy is the element's reference; ``reference_choice``: how
    they were chosen (on the label and in its id). A failed calculation, an
    element whose every crystal failed or physics that differ give a failed
    outcome with the reason.
    """
    outcome = {"calculation_id": calculation.id, "structure_id": structure_id, "status": calculation.status,
               "reused": reused, "core_hours": float(calculation.core_hours or 0.0)}
    if calculation.status != "completed":
        return PropertyOutcome(**outcome, error=calculation.error)
    try:
        references = {element: choose_reference(element, found) for element, found in crystals.items()}
        label = build_label(candidate_id, "mixing_energy_per_atom", mixing_energy_per_atom(calculation, references),
                            "eV/atom", [calculation], [references[el].calculation for el in sorted(references)],
                            {"references": {el: reference.summary() for el, reference in references.items()},
                             "reference_choice": reference_choice}, reference_choice)
    except AlloyscreenError as error:
        return PropertyOutcome(**{**outcome, "status": "failed"}, error=str(error))
    store_label(label)
    return PropertyOutcome(**outcome, value=label.value, label_id=label.id)


@job
def mixing_energy_job(validated: ValidationOutput, references: dict[str, dict[str, ValidationOutput]],
                      structure_id: str | None = None,
                      reference_choice: ReferenceChoice = "search") -> PropertyOutcome:
    """Label a validated structure from its finished reference jobs (:func:`mixing_energy_outcome`).

    ``reference_choice`` defaults to ``search``: what workflows submitted before the choice existed did.
    """
    crystals = {element: {name: output.calculation for name, output in found.items()}
                for element, found in references.items()}
    return mixing_energy_outcome(validated.calculation, validated.reused, crystals, validated.candidate_id,
                                 structure_id, reference_choice=reference_choice)


@job
def label_here(label: MixingEnergyMaker, structure: Structure, candidate_id: str | None = None,
               parents: list[str] | None = None, structure_id: str | None = None,
               campaign_id: str | None = None) -> PropertyOutcome:
    """Compute (or reuse) the calculations of ``label`` for ``structure`` in this job; return the outcome."""
    return label.compute(structure, candidate_id, list(parents or []), structure_id, campaign_id)


@dataclass
class MixingEnergyMaker(Maker):
    """Label a structure with its mixing energy per atom (eV/atom) against elemental references.

    The reference crystals of each element (:func:`reference_crystals`: its
    ground state with ``references="ground_state"``, the default; fcc, bcc, hcp
    and more with ``"search"``) are vc-relaxed with the same calculator and
    settings, resolved once for ``pool`` (default: the structure's elements),
    and the lowest wins; ``antiferromagnetic`` names elements besides Cr, Mn
    and Fe that also start antiferromagnetic when the calculation is
    spin-polarised. :meth:`make` returns the label's jobs.
    """

    name: str = "mixing energy"
    validation: ValidationMaker = field(default_factory=ValidationMaker)
    pool: list[str] | None = None
    antiferromagnetic: list[str] = field(default_factory=list)
    references: ReferenceChoice = "ground_state"

    def pooled(self, structure: Structure) -> ValidationMaker:
        """The validation Maker with its settings resolved for the pool (one line on bad settings)."""
        elements = self.pool or [el.symbol for el in structure.composition]
        settings = pool_settings(self.validation.calculator, elements, self.validation.settings)
        return replace(self.validation, settings=settings)

    def crystals(self, structure: Structure, validation: ValidationMaker) -> dict[str, dict[str, Structure]]:
        """Element -> crystal name -> the crystals whose lowest relaxed energy is its reference."""
        return {el.symbol: reference_crystals(el.symbol, validation.calculator, validation.settings,
                                              antiferromagnetic=self.antiferromagnetic, references=self.references)
                for el in structure.composition}

    def plan(self, structure: Structure) -> tuple[dict[str, tuple[Prepared, ValidationMaker]], str,
                                                   dict[str, dict[str, str]]]:
        """Return the label's calculations, each once: (id -> calculation and Maker, the structure's id, references).

        A calculation comes checked (:class:`Prepared`), so running it redoes
        nothing; references: element -> crystal -> calculation id (a pure
        element's cell is also one of them).
        """
        validation = self.pooled(structure)
        relax_cell = replace(validation, relax=True, relax_cell=True)
        calculations: dict[str, tuple[Prepared, ValidationMaker]] = {}

        def add(crystal: Structure, maker: ValidationMaker) -> str:
            prepared = prepare(crystal, maker.calculator, maker.settings, maker.mode)
            calculations.setdefault(prepared.key, (prepared, maker))
            return prepared.key

        main = add(structure, validation)
        references = {element: {name: add(crystal, relax_cell) for name, crystal in found.items()}
                      for element, found in self.crystals(structure, validation).items()}
        return calculations, main, references

    def make(self, structure: Structure, candidate_id: str | None = None, parents: list[str] | None = None,
             structure_id: str | None = None, campaign_id: str | None = None) -> Job | Flow:
        """Return the label's jobs; bad settings fail here, in one line.

        A calculator that runs here: one job computing (or reusing) the
        structure and every reference crystal side by side (:meth:`compute`).
        One that runs only as a workflow (VASP through atomate2): one job per
        calculation, then the label job.
        """
        name = f"{self.name} {structure.composition.reduced_formula}"
        if not is_remote(self.validation.calculator):
            validation = self.pooled(structure)
            made = label_here(self, structure, candidate_id, list(parents or []), structure_id, campaign_id)
            made.name = name
            made.update_config({"manager_config": routing(
                validation.category or get_calculator(validation.calculator).category, validation.fworker)})
            return made
        calculations, main, references = self.plan(structure)
        jobs = {key: maker.make(prepared.structure, candidate_id if key == main else None,
                                parents if key == main else None)
                for key, (prepared, maker) in calculations.items()}
        label = mixing_energy_job(jobs[main].output, {element: {name: jobs[key].output for name, key in found.items()}
                                                      for element, found in references.items()}, structure_id,
                                  self.references)
        label.update_config({"manager_config": jobs[main].config.manager_config})
        return Flow([*jobs.values(), label], output=label.output, name=name)

    def compute(self, structure: Structure, candidate_id: str | None = None, parents: list[str] | None = None,
                structure_id: str | None = None, campaign_id: str | None = None) -> PropertyOutcome:
        """The body of the job :meth:`make` returns for a calculator that runs here.

        Those stored already (the references, mostly) are read in one query;
        the others (and failures the Maker's ``retries`` runs again) run side
        by side where the calculator allows it (:func:`concurrent_runs`: pw.x
        on each free core), largest cells first.
        """
        calculations, main, references = self.plan(structure)
        calc = calculations[main][1]
        done = {key: (CalculationDocument.from_mongo(found), True)
                for key, found in stored_calculations(list(calculations)).items()
                if not runs_again(found, calculations[key][1].retries)}
        to_run = sorted(((key, item) for key, item in calculations.items() if key not in done),
                        key=lambda pair: -len(pair[1][0].structure))
        with ThreadPoolExecutor(concurrent_runs(get_calculator(calc.calculator), calc.settings)) as pool:
            running = {key: pool.submit(run_prepared, prepared, parents=(parents or []) if key == main else (),
                                        campaign_id=campaign_id if key == main else None, retries=maker.retries)
                       for key, (prepared, maker) in to_run}
            done.update((key, future.result()) for key, future in running.items())
        crystals = {element: {name: done[key][0] for name, key in found.items()}
                    for element, found in references.items()}
        return mixing_energy_outcome(*done[main], crystals, candidate_id, structure_id,
                                     reference_choice=self.references)
