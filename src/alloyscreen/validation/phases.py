"""Competing phases of an element pool and the convex hull they make with the elements.

Every pair of the pool gets the ordered prototypes of
:mod:`alloyscreen.structures.prototypes`; each is vc-relaxed with a stage's
calculator and settings resolved for the pool and labelled by its formation
energy against the same vc-relaxed elemental references as the candidates (a
:class:`~alloyscreen.validation.targets.MixingEnergyMaker` with the cell
relaxed: the same physics, every calculation cached). A hull compares
energies, so the calculator's lowest elemental energy matters: its references,
and those of every stability label (:class:`StabilityMaker`), are always the
lowest of a search over crystals (``references="search"``), whatever a stage's
mixing energies use. With the elements at zero
they form pymatgen's ``PhaseDiagram``; a candidate's energy above that hull
(negative below it: its decomposition energy) is measured from its mixing energy.

Temperature enters through the ideal configurational entropy alone
(``S = −k_B Σ x ln x`` per atom): ordered phases and elements are taken
without entropy, vibrations and electrons are left out, and the hull is that
of 0 K. The solid solution then beats every competing phase above
``T* = E_hull / S`` (:meth:`PhaseHull.stabilization_temperature`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations

import numpy as np
from jobflow import Flow, Job
from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.core import Composition, Structure

from alloyscreen.db.client import get_database
from alloyscreen.descriptors import Compositions
from alloyscreen.descriptors.pairs import mixing_entropy
from alloyscreen.errors import AlloyscreenError
from alloyscreen.hashing import content_hash
from alloyscreen.schemas.label import LabelDocument
from alloyscreen.schemas.provenance import current_job_provenance
from alloyscreen.schemas.selection import PropertyOutcome
from alloyscreen.structures.prototypes import PROTOTYPES, ordered_phases
from alloyscreen.validation.maker import call_here
from alloyscreen.validation.references import ReferenceChoice
from alloyscreen.validation.registry import is_remote, local_calculators
from alloyscreen.validation.targets import MixingEnergyMaker, store_label

logger = logging.getLogger(__name__)
HULL_PROPERTY = "energy_above_hull_per_atom"
FREE_ENERGY_PROPERTY = "mixing_free_energy_per_atom"


@dataclass(frozen=True)
class PhaseEnergy:
    """An ordered phase of a pair as computed: its formation energy per atom (eV/atom), its label and calculation."""

    name: str
    prototype: str
    composition: dict[str, float]
    formation_energy: float
    label_id: str | None = None
    calculation_id: str | None = None


def competing_phases(label: MixingEnergyMaker, pool: Sequence[str],
                     prototypes: Sequence[str] = PROTOTYPES) -> list[PhaseEnergy]:
    """Relax (or find cached) every ordered phase of every pair of ``pool``; the ones that failed are left out.

    Phases are always vc-relaxed (a hull of unrelaxed phases would sit too
    high); candidates are labelled in the stage's own mode.
    """
    relaxed = MixingEnergyMaker(name="competing phases", pool=list(pool), antiferromagnetic=label.antiferromagnetic,
                                validation=replace(label.validation, relax=True, relax_cell=True),
                                references="search")
    phases = []
    for a, b in combinations(sorted(pool), 2):
        for phase in ordered_phases(a, b, prototypes):
            outcome = call_here(relaxed.make(phase.structure))
            if outcome.value is None:
                logger.info("competing phase %s: no formation energy: %s", phase.name, outcome.error)
                continue
            phases.append(PhaseEnergy(phase.name, phase.prototype, dict(phase.composition), outcome.value,
                                      outcome.label_id, outcome.calculation_id))
    return phases


class PhaseHull:
    """The 0 K convex hull of a pool's elements (at zero) and its competing phases' formation energies."""

    def __init__(self, pool: Sequence[str], phases: Sequence[PhaseEnergy]):
        self.pool, self.phases = sorted(pool), list(phases)
        entries = [PDEntry(Composition({element: 1}), 0.0) for element in self.pool]
        entries += [PDEntry(Composition(phase.composition), phase.formation_energy, name=phase.name)
                    for phase in self.phases]
        self.diagram = PhaseDiagram(entries)

    def energy_above_hull(self, composition: Mapping[str, float], formation_energy: float) -> float:
        """Energy (eV/atom) of a phase of ``composition`` above the hull; negative below it."""
        entry = PDEntry(Composition(dict(composition)), formation_energy * sum(composition.values()))
        try:
            above = self.diagram.get_e_above_hull(entry, allow_negative=True)
        except ValueError:
            above = None
        if above is None:
            raise AlloyscreenError(f"composition {dict(composition)} is outside the hull of {self.pool}; allowed: "
                                   f"compositions of those elements")
        return float(above)

    def stabilization_temperature(self, composition: Mapping[str, float], formation_energy: float) -> float:
        """Temperature (K) above which the ideal solid solution beats the hull (0 when it is on or below it)."""
        above = self.energy_above_hull(composition, formation_energy)
        entropy = float(mixing_entropy(Compositions.from_dicts([dict(composition)]))[0])
        return max(above, 0.0) / entropy if entropy > 0 else (0.0 if above <= 0 else float("inf"))

    def stable(self) -> list[str]:
        """Names of the competing phases on the hull."""
        return sorted(entry.name for entry in self.diagram.stable_entries
                      if isinstance(entry, PDEntry) and not entry.composition.is_element)

    def pair_enthalpies(self) -> dict[tuple[str, str], float]:
        """Each pair's lowest formation energy (eV/atom) among its computed phases."""
        lowest: dict[tuple[str, str], float] = {}
        for phase in self.phases:
            a, b = sorted(phase.composition)
            lowest[a, b] = min(lowest.get((a, b), np.inf), phase.formation_energy)
        return lowest


_HULLS: dict[str, PhaseHull] = {}


def pool_hull(label: MixingEnergyMaker, pool: Sequence[str], prototypes: Sequence[str] = PROTOTYPES) -> PhaseHull:
    """The hull of ``pool`` at ``label``'s calculator and settings (computed once per process; calculations cached)."""
    key = content_hash({"calculator": label.validation.calculator, "settings": label.validation.settings,
                        "pool": sorted(pool), "prototypes": list(prototypes),
                        "antiferromagnetic": sorted(label.antiferromagnetic)})
    if key not in _HULLS:
        _HULLS[key] = PhaseHull(pool, competing_phases(label, pool, prototypes))
    return _HULLS[key]


@dataclass
class StabilityMaker(MixingEnergyMaker):
    """Label a structure with a stability measure derived from its mixing energy at the same settings.

    ``energy_above_hull_per_atom`` (eV/atom): above the hull of the pool's
    competing phases (``prototypes``), negative below it;
    ``mixing_free_energy_per_atom`` (eV/atom): ``ΔH_mix − T·ΔS_conf`` at
    ``temperature`` (K). The derived label cites the mixing energy's
    calculations and, for the hull, every competing phase's. ``elements``: the
    hull's elements (default: ``pool``, which may also hold an adsorbate's H).
    ``references`` is ``search`` (the lowest elemental energies of the
    calculator, as for the hull); another choice is refused.
    """

    prop: str = HULL_PROPERTY
    temperature: float = 0.0
    prototypes: list[str] = field(default_factory=lambda: list(PROTOTYPES))
    elements: list[str] | None = None
    references: ReferenceChoice = "search"

    def __post_init__(self) -> None:
        if self.references != "search":
            raise AlloyscreenError(f"{self.prop} compares against a hull: its references {self.references!r} must "
                                   f"be searched; allowed: search")

    def make(self, structure: Structure, candidate_id: str | None = None, parents: list[str] | None = None,
             structure_id: str | None = None, campaign_id: str | None = None) -> Job | Flow:
        """Return the label's job (calculators that run here: the hull's phases are computed in it)."""
        if is_remote(self.validation.calculator):
            raise AlloyscreenError(f"{self.prop} needs its hull's phases computed in one job, which calculator "
                                   f"{self.validation.calculator!r} cannot; allowed: {', '.join(local_calculators())}")
        return super().make(structure, candidate_id, parents, structure_id, campaign_id)

    def compute(self, structure: Structure, candidate_id: str | None = None, parents: list[str] | None = None,
                structure_id: str | None = None, campaign_id: str | None = None) -> PropertyOutcome:
        """The mixing energy's outcome (:meth:`MixingEnergyMaker.compute`) carrying the derived label."""
        mixing = super().compute(structure, candidate_id, parents, structure_id, campaign_id)
        if mixing.value is None:
            return mixing
        base = LabelDocument.from_mongo(get_database()["labels"].find_one({"_id": mixing.label_id}) or {})
        composition = {el.symbol: float(x) for el, x in structure.composition.fractional_composition.items()}
        phase_labels: list[str] = []
        references = list(base.reference_calculation_ids)
        details: dict = {"mixing_energy_per_atom": mixing.value, "mixing_label_id": base.id}
        if self.prop == HULL_PROPERTY:
            hull = pool_hull(self, self.elements or self.pool or sorted(composition), self.prototypes)
            value = hull.energy_above_hull(composition, mixing.value)
            phase_labels = [phase.label_id for phase in hull.phases if phase.label_id]
            references += [phase.calculation_id for phase in hull.phases if phase.calculation_id]
            temperature = hull.stabilization_temperature(composition, mixing.value)
            details.update(stable_phases=hull.stable(), phases_computed=len(hull.phases),
                           stabilization_temperature_k=temperature if np.isfinite(temperature) else None)
        else:
            entropy = float(mixing_entropy(Compositions.from_dicts([composition]))[0])
            value = mixing.value - self.temperature * entropy
            details.update(temperature_k=self.temperature, configurational_entropy_ev_per_k=entropy)
        key = content_hash({"candidate": candidate_id, "property": self.prop, "from": base.id, "phases": phase_labels,
                            "temperature": self.temperature if self.prop != HULL_PROPERTY else None})
        label = LabelDocument(id=key, candidate_id=candidate_id, property=self.prop, value=value, unit="eV/atom",
                              calculator=base.calculator, calculation_ids=base.calculation_ids,
                              reference_calculation_ids=references, details=details,
                              provenance=current_job_provenance(input_hash=key, parents=[base.id, *phase_labels]))
        store_label(label)
        return mixing.model_copy(update={"value": value, "label_id": label.id})
