"""Campaign specs (``flows/*.yaml``), validated by pydantic: unknown keys name the closest valid one."""

from __future__ import annotations

import builtins
import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from alloyscreen.candidates.space import CandidateSpace
from alloyscreen.candidates.spec import CandidateSpaceSpec
from alloyscreen.catalysis.activity import GRID_ACTIVITIES
from alloyscreen.descriptors.properties import (
    COMPUTED,
    is_composition_property,
    property_unit,
    tabulated_elements,
    untabulated,
)
from alloyscreen.errors import AlloyscreenError
from alloyscreen.hashing import content_hash
from alloyscreen.settings import get_settings
from alloyscreen.structures.adsorption import FACET_SITE_KINDS
from alloyscreen.structures.makers import StructureMaker
from alloyscreen.structures.prototypes import PROTOTYPES
from alloyscreen.structures.slabs import FACETS
from alloyscreen.surrogates.acquisition import ACQUISITIONS, get_acquisition
from alloyscreen.surrogates.crossval import (
    DEFAULT_FOLDS,
    LABELS_PER_CANDIDATE,
    Candidate,
    check_grid,
    grid_candidates,
    min_labels_for_cv,
)
from alloyscreen.surrogates.learners import LEARNERS, get_learner
from alloyscreen.surrogates.potential import MIN_CALIBRATION_LABELS
from alloyscreen.validation.adsorption import ADSORPTION_UNITS, label_elements
from alloyscreen.validation.maker import ValidationMaker
from alloyscreen.validation.phases import FREE_ENERGY_PROPERTY, HULL_PROPERTY
from alloyscreen.validation.physics import pool_settings
from alloyscreen.validation.pseudo import MissingPseudoDirectoryError
from alloyscreen.validation.references import ReferenceChoice
from alloyscreen.validation.registry import (
    CALCULATORS,
    fitting_calculators,
    get_calculator,
    is_remote,
    known_limits,
    universal_potentials,
)

# objective property -> (label property, unit)
PROPERTIES: dict[str, tuple[str, str]] = {
    "mixing_energy": ("mixing_energy_per_atom", "eV/atom"),
    "energy_above_hull": (HULL_PROPERTY, "eV/atom"),
    "mixing_free_energy": (FREE_ENERGY_PROPERTY, "eV/atom"),
    **{prop: (prop, unit) for prop, unit in ADSORPTION_UNITS.items()},
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SurrogateSpec(_Strict):
    """The tree ensemble that ranks candidates between validations, and how its learner is chosen.

    One ``learner`` with its ``params`` is trained as it is. With several
    ``learners`` or a ``grid`` (per learner, hyperparameter -> values tried), k-fold
    cross-validation (5 folds, the same for every candidate) chooses the learner and
    hyperparameters with the lowest ``select_by`` error, on every round or, with
    ``select_every``, when the labels have grown by that fraction since the last
    choice; below ``select_from`` labels the first candidate is trained (the first
    learner, the first value of each of its grid lists). The choice, with every
    candidate's CV errors, and the model's top descriptors by gain and by held-out
    permutation are stored on each model document. A selection among G candidates
    needs ``select_from`` of at least 2·G labels (see
    :func:`alloyscreen.surrogates.crossval.check_grid`).
    """

    learner: str = Field("xgboost", description=f"base learner of the ensemble: {', '.join(LEARNERS)}")
    learners: list[str] = Field(default_factory=list, description="learners cross-validation chooses from (empty: "
                                                                  "learner alone)")
    n_members: int = Field(5, ge=2, description="ensemble members (bootstrap + seed)")
    params: dict[str, Any] = Field(default_factory=dict, description="hyperparameters of each member")
    calibrate: bool = Field(True, description="scale the ensemble spread on held-out folds (max. likelihood)")
    grid: dict[str, dict[str, list[Any]]] = Field(
        default_factory=dict, description="per learner, hyperparameter -> values tried (each combination is one "
                                          "candidate), e.g. {xgboost: {max_depth: [3, 6]}}")
    select_every: float = Field(0.0, ge=0, description="choose again when the labels have grown by this fraction "
                                                       "since the last choice (0: every round)")
    select_from: int = Field(10, ge=min_labels_for_cv(DEFAULT_FOLDS),
                             description="fewest labels of a selection (fewer: the first candidate); at least "
                                         f"{LABELS_PER_CANDIDATE} per candidate")
    select_by: Literal["rmse", "mae"] = Field("rmse", description="CV error the selection minimises")
    importance_top: int = Field(10, ge=1, description="descriptors kept per importance (gain, permutation) on each "
                                                      "model document")

    @field_validator("learner")
    @classmethod
    def _known_learner(cls, value: str) -> str:
        try:
            get_learner(value)
        except AlloyscreenError as error:
            raise ValueError(str(error)) from None
        return value

    @model_validator(mode="after")
    def _check_selection(self) -> SurrogateSpec:
        default = type(self).model_fields["learner"].default  # a stored spec spells it: only another is a choice
        if self.learners and self.learner != default and self.learner not in self.learners:
            raise ValueError(f"learner {self.learner!r} is not among learners {self.learners}, which replace it; "
                             "allowed: learner for one, learners for several")
        check_grid(self.candidate_learners, self.grid, self.params, self.select_from)
        return self

    @builtins.property
    def candidate_learners(self) -> list[str]:
        """The learners a selection chooses from (``learner`` alone unless ``learners`` lists several)."""
        return list(self.learners) or [self.learner]

    @builtins.property
    def model_candidates(self) -> list[Candidate]:
        """Every (learner, grid combination) in spec order; the first is trained below ``select_from`` labels."""
        return grid_candidates(self.candidate_learners, self.grid)


class AcquisitionSpec(_Strict):
    """How each round's batch is chosen."""

    strategy: str = Field("ucb", description=f"acquisition function: {', '.join(ACQUISITIONS)}")
    batch_size: int = Field(4, ge=1, description="candidates validated per round")
    kappa: float = Field(2.0, description="exploration weight of ucb")
    diversity: Literal["maxmin", "kmeans", "none"] = Field("maxmin", description="diversity in descriptor space")
    pool_factor: float = Field(5.0, ge=1, description="top slice for diversity, as a multiple of batch_size")
    keep_top: int = Field(200, ge=1, description="prediction documents stored per round (the top slice)")
    shards: int = Field(1, ge=1, description="scoring jobs per round: > 1 fans scoring out over FireWorks workers")
    chunk_size: int = Field(65536, ge=1, description="candidates featurized and scored at a time (memory bound)")
    cascade: float = Field(1.0, gt=0, le=1, description=(
        "screens: share of each chunk, best by the ensemble's first member, that the whole ensemble scores; below 1 "
        "it also scores every candidate that could still enter the top slice under the ensemble's spread "
        "(alloyscreen.campaign.round.cascade); 1: the whole ensemble scores every candidate"))

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        get_acquisition(value)  # unknown: one line naming the allowed ones
        return value


class ObjectiveSpec(_Strict):
    """A property to optimise: a validated label, or a property known from the composition alone.

    Labelled: ``mixing_energy`` (eV/atom, bulk), ``energy_above_hull`` (eV/atom:
    above the hull of the pool's competing phases, negative below it; see the
    spec's ``phases``), ``mixing_free_energy`` (eV/atom: ΔH_mix − T·ΔS_conf at
    ``temperature``, ideal configurational entropy only), ``delta_g_h``,
    ``delta_g_oh``, ``delta_g_o`` or ``delta_e_co`` (eV, the adsorbate on
    the close-packed surface: its most stable computed site; see
    :mod:`alloyscreen.catalysis.adsorbates`), ``her_activity`` (the HER
    activity of the computed sites' ΔG_H distribution, per site in units of
    k0, to maximise), ``orr_activity`` (*OH and *O on every on-top and fcc
    site against Pt(111), per site) or ``co2rr_selectivity`` (the share of
    on-top sites binding *CO with no *H-binding hollow around); see
    :mod:`alloyscreen.catalysis.activity`. From the composition (see
    :mod:`alloyscreen.descriptors.properties`): ``cost`` (USD/kg), ``density``
    (g/cm^3), ``hhi_production``, ``hhi_reserve`` or any descriptor column. A
    campaign learns one surrogate per labelled objective (each property once);
    with two or more objectives its batches are chosen by Pareto rank.
    """

    property: str = Field(
        "mixing_energy", description="mixing_energy, delta_g_h, delta_g_oh, delta_g_o, delta_e_co, her_activity, "
                                     "orr_activity, co2rr_selectivity, cost, density, hhi_production, hhi_reserve "
                                     "or a descriptor column (e.g. delta_h_mix)"
    )
    direction: Literal["minimize", "maximize", "target"] = Field("minimize", description="what is better")
    target: float | None = Field(None, description="target value when direction is 'target' (hydrogen evolution: "
                                                    "delta_g_h with direction 'target' and target 0.0)")
    temperature: float | None = Field(None, description="temperature of mixing_free_energy (K)")

    @builtins.property  # the field 'property' shadows the builtin in this class
    def labelled(self) -> bool:
        """True for a property that needs a validation (a label), False for one known from the composition."""
        return self.property in PROPERTIES

    @builtins.property  # the field 'property' shadows the builtin in this class
    def name(self) -> str:
        """The property as stored: the label property (e.g. ``mixing_energy_per_atom``) or the composition one."""
        return PROPERTIES[self.property][0] if self.labelled else self.property

    @builtins.property  # the field 'property' shadows the builtin in this class
    def unit(self) -> str:
        """Unit of :attr:`name`."""
        return PROPERTIES[self.property][1] if self.labelled else property_unit(self.property)

    @model_validator(mode="after")
    def _check(self) -> ObjectiveSpec:
        if not self.labelled and not is_composition_property(self.property):
            raise ValueError(f"unknown objective property {self.property!r}; allowed: {', '.join(PROPERTIES)}, "
                             f"{', '.join(COMPUTED)} or a descriptor column (e.g. delta_h_mix)")
        if (self.property == "mixing_free_energy") != (self.temperature is not None):
            raise ValueError(f"objective {self.property!r} with temperature {self.temperature!r}: a temperature (K) "
                             "is required with mixing_free_energy and only then")
        if self.temperature is not None and self.temperature < 0:
            raise ValueError(f"temperature {self.temperature:g} K; allowed: 0 K or above")
        if (self.direction == "target") != (self.target is not None):
            raise ValueError(f"direction {self.direction!r} with target {self.target!r}: a target value is "
                             "required with direction 'target' and only then")
        return self


class StructureSpec(_Strict):
    """How a candidate becomes a structure for validation (see ``alloyscreen.structures.bulk``)."""

    method: Literal["sqs", "random"] = Field("sqs", description="special quasirandom or random solid solution")
    supercell: tuple[int, int, int] | None = Field(None, description="repeats of the conventional cell; None: auto")
    max_error: float = Field(0.02, gt=0, description="largest |count/N - fraction| accepted")
    iterations: int = Field(20000, ge=1, description="Monte Carlo iterations of the SQS search")


SiteKind = Literal["top", "bridge", "fcc", "hcp", "hollow"]


def _default_site_kinds() -> list[SiteKind]:
    return ["fcc", "hcp", "top", "bridge"]


class SlabSpec(_Strict):
    """The surface of an adsorption label, e.g. ``her_activity`` (``structures.slabs``, ``.adsorption``).

    Sites are drawn at random (seeded) within each kind and taken round-robin
    over ``site_kinds`` in the order given, so a small ``max_sites`` still
    covers the first kinds listed; ``site_choice: uncertain`` lets the
    campaign's site model choose them instead. The grid activities
    (``orr_activity``, ``co2rr_selectivity``) compute every site of their
    two kinds, whatever ``max_sites`` and ``site_kinds`` say.
    """

    size: tuple[int, int] = Field((3, 3), description="surface repeats along the two in-plane cell vectors")
    layers: int = Field(4, ge=2, description="atomic layers")
    fixed_layers: int = Field(2, ge=0, description="bottom layers marked fixed (selective dynamics)")
    vacuum: float = Field(12.0, gt=0, description="vacuum gap between periodic images (Å)")
    max_error: float = Field(0.05, gt=0, description="largest |count/N - fraction| accepted")
    max_sites: int = Field(6, ge=1, description="adsorption sites computed per candidate")
    site_kinds: list[SiteKind] = Field(
        default_factory=_default_site_kinds,
        description="site kinds drawn from (hollow: the 3-fold sites of bcc(110))", min_length=1,
    )
    site_choice: Literal["random", "uncertain"] = Field(
        "random", description="how the max_sites sites are chosen: random (seeded, round-robin over site_kinds) or "
                              "uncertain (site-level active learning: once the campaign has a site model, the sites "
                              "of site_kinds whose energy its calibrated members disagree on most)")

    @model_validator(mode="after")
    def _check(self) -> SlabSpec:
        if self.fixed_layers >= self.layers:
            raise ValueError(f"fixed_layers {self.fixed_layers} must be below layers {self.layers}")
        return self


class StageSpec(_Strict):
    """One rung of the fidelity ladder: a calculator, what it validates and its budget."""

    name: str = Field(description="stage name, e.g. 'emt', 'chgnet', 'dft'")
    calculator: str = Field(description="validation calculator: a name of the calculator registry "
                                        f"({', '.join(CALCULATORS)})")
    mode: Literal["static", "relax", "vc-relax"] = Field("vc-relax", description="calculation type")
    settings: dict[str, Any] = Field(default_factory=dict, description="calculator settings")
    structure: StructureSpec = Field(default_factory=StructureSpec, description="bulk structure generation")
    slab: SlabSpec = Field(default_factory=SlabSpec, description="slab and sites of a delta_g_h objective "
                                                                 "(relaxed in mode 'relax' whatever 'mode' says)")
    max_validations: int = Field(ge=1, description="budget: validations in this stage")
    max_core_hours: float | None = Field(None, gt=0, description="budget: core-hours in this stage")
    category: str = Field("cheap", description="FireWorks _category of this stage's jobs")
    antiferromagnetic: list[str] = Field(default_factory=list, description="elements besides Cr, Mn and Fe whose "
                                         "references also start antiferromagnetic (spin-polarised stages)")
    accept_unfit: list[str] = Field(default_factory=list, description="elements of the pool that this stage's "
                                    "calculator is known to get wrong (its known limits) and that the campaign "
                                    "accepts anyway; any other such element refuses the spec")
    retries: int = Field(0, ge=0, le=5, description="times a failed calculation is run again before its failure "
                                                    "is the label's outcome (e.g. a pw.x killed by a time limit "
                                                    "resumes from its restart files)")
    references: ReferenceChoice = Field("ground_state", description="elemental references of its mixing energies: "
                                        "each element's ground-state crystal (Ashcroft & Mermin's tables), or "
                                        "search: the lowest of fcc, bcc, hcp (and antiferromagnetic starts); "
                                        "stability objectives (hull, free energy, phases) always search")

    @field_validator("calculator")
    @classmethod
    def _registered(cls, value: str) -> str:
        get_calculator(value)  # one line naming the registry's names
        return value

    def structure_maker(self, seed: int = 0) -> StructureMaker:
        """The Maker of this stage's bulk structures (``structure``), seeded with ``seed``."""
        recipe = self.structure
        return StructureMaker(name=self.name, method=recipe.method, seed=seed, iterations=recipe.iterations,
                              max_error=recipe.max_error, supercell=recipe.supercell)

    def slab_maker(self, seed: int = 0) -> StructureMaker:
        """The Maker of this stage's slabs (``slab``: a delta_g_h label's surface), seeded with ``seed``."""
        geometry = self.slab.model_dump(include={"size", "layers", "fixed_layers", "vacuum"})
        return StructureMaker(name=f"{self.name} slab", method="slab", seed=seed, max_error=self.slab.max_error,
                              slab=geometry)

    def validation_maker(self) -> ValidationMaker:
        """The stage's validation Maker (calculator, settings, mode, category), named after the stage."""
        return ValidationMaker(name=self.name, calculator=self.calculator, settings=dict(self.settings),
                               relax=self.mode != "static", relax_cell=self.mode == "vc-relax", category=self.category,
                               retries=self.retries)


class StoppingSpec(_Strict):
    """When the active-learning loop ends (besides the first stage's budget)."""

    max_rounds: int = Field(10, ge=1, description="rounds at most")
    patience: int = Field(3, ge=1, description="stop when the top-k is unchanged for this many rounds")
    top_k: int = Field(5, ge=1, description="size of the top-k watched for convergence")


class GnnSpec(_Strict):
    """A matgl graph network trained on the campaign's relaxed structures after its last stage.

    With ``delta_from`` the network learns ``value(stage) - value(delta_from)`` for
    the candidates labelled at both stages (Δ-learning, e.g. DFT minus CHGNet).
    """

    architecture: Literal["megnet", "m3gnet", "tensornet"] = Field("megnet", description="matgl architecture")
    epochs: int = Field(50, ge=1, description="training epochs")
    batch_size: int = Field(8, ge=1, description="structures per batch")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    stage: str | None = Field(None, description="stage whose labels are learned (default: the first stage)")
    delta_from: str | None = Field(None, description="stage whose label is the baseline (Δ-learning); None: none")
    min_labels: int = Field(8, ge=5, description="fewest labels to train on (fewer: no model, a logged reason)")
    cv_folds: int = Field(3, ge=0, description="folds of the cross-validation error (0: none; each fold trains "
                                               "one more network)")
    accelerator: Literal["cpu", "gpu", "auto"] = Field("cpu", description="lightning accelerator of the training")

    @model_validator(mode="after")
    def _check(self) -> GnnSpec:
        if self.cv_folds == 1:
            raise ValueError("cv_folds 1 is not a cross-validation; use 0 (none) or 2 and more")
        if self.delta_from is not None and self.delta_from == self.stage:
            raise ValueError(f"delta_from {self.delta_from!r} must differ from stage {self.stage!r}")
        return self


GNN_RANKER = "matgl"
FINETUNE_RANKER = "chgnet-finetune"


class SinglePhaseSpec(_Strict):
    """The single-phase criterion of Troparevsky et al. (Phys. Rev. X 5, 011041, 2015) as a filter of the space.

    A candidate stays when every pair of its elements has its lowest computed
    formation enthalpy (competing phases, ``phases``) in ``[−temperature·ΔS_mix,
    upper]``, ΔS_mix its ideal configurational entropy.
    """

    temperature: float = Field(1000.0, gt=0, description="annealing temperature of the lower bound (K); 1000 K is "
                                                         "this project's default, not the paper's")
    upper: float = Field(0.037, description="upper bound of the pair enthalpies (eV/atom); 0.037 from the paper")


class PhasesSpec(_Strict):
    """Competing phases: ordered prototypes of every pair of the pool, relaxed with a stage's calculator.

    They make the hull of an ``energy_above_hull`` objective (each stage's own,
    at that stage's settings) and the pair enthalpies of the ``single_phase``
    filter (those of ``stage``).
    """

    prototypes: list[str] = Field(default_factory=lambda: list(PROTOTYPES), description="ordered prototypes: "
                                  f"{', '.join(PROTOTYPES)} (C15 only where the radii fit)")
    stage: str | None = Field(None, description="stage whose calculator computes the filter's enthalpies "
                                                "(default: the first)")
    single_phase: SinglePhaseSpec | None = Field(None, description="Troparevsky filter of the space; None: none")

    @field_validator("prototypes")
    @classmethod
    def _known_prototypes(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in PROTOTYPES]
        if unknown:
            raise ValueError(f"unknown prototype {unknown[0]!r}; allowed: {', '.join(PROTOTYPES)}")
        if not value or len(set(value)) != len(value):
            raise ValueError(f"prototypes {value}; allowed: a non-empty list of {', '.join(PROTOTYPES)} without "
                             "repeats")
        return value


class FidelitySpec(_Strict):
    """How the first two stages share the work: a ladder, or one multi-fidelity loop.

    ``ladder``: the first stage alone is the active-learning oracle; later
    stages confirm its best candidates at the end. ``multi``: each round the
    trees predict the second stage's value as the first stage's plus a Δ model
    learned on the candidates labelled at both
    (:mod:`~alloyscreen.surrogates.multifidelity`), the first stage's batch is
    chosen on that prediction, and the second stage labels the candidates with
    the best acquisition score (the spec's strategy) given their first-stage
    label, as many as ``share`` of the round's core-hours buys at each stage's measured
    core-hours per calculation; later stages confirm the second stage's best.
    """

    mode: Literal["ladder", "multi"] = Field("ladder", description="fidelity ladder or multi-fidelity loop")
    share: float = Field(0.5, gt=0, lt=1, description="fraction of each round's core-hours spent at the second "
                                                      "stage (multi)")


def ranker_kinds() -> list[str]:
    """The rankers a spec may name: the universal potentials, and a matgl ensemble trained on the labels."""
    return [*universal_potentials(), GNN_RANKER, FINETUNE_RANKER]


class RankerSpec(_Strict):
    """A graph network that re-ranks the trees' top slice each round from the candidates' structures.

    A universal potential (``chgnet``, ``sevennet``) gives every candidate of
    the slice (and every labelled one) a mixing energy against its own
    elemental references, from the structure ``structure`` generates (relaxed
    references, the candidate ``static`` or with positions relaxed); a line
    fitted on the labelled candidates maps it onto the labels, its leave-one-out
    RMS residual being its spread
    (:class:`~alloyscreen.surrogates.potential.CalibratedPotential`).
    ``matgl`` trains ``members`` networks on the labelled candidates'
    (unrelaxed) structures each round; their spread is scaled by the maximum
    likelihood fit on the earlier rounds' predictions of labels that came later.
    ``chgnet-finetune`` fine-tunes ``members`` pretrained CHGNets (the last
    convolutions and the readout) on the labels each round, spread scaled alike
    (:class:`~alloyscreen.surrogates.finetune.FineTunedChgnet`).
    ``combine: precision`` weights the trees' and the ranker's means by their
    inverse variances (two independent Gaussian estimates); ``combine:
    ranker`` uses the ranker's alone. A ``second`` universal potential makes a
    committee: each is calibrated alone, their means are averaged and their
    disagreement adds to the spread
    (:class:`~alloyscreen.surrogates.potential.PotentialCommittee`).
    """

    kind: str = Field("chgnet", description=f"the ranker: {', '.join(ranker_kinds())}")
    second: str | None = Field(None, description="a second universal potential (default settings) whose "
                                                 "disagreement with the first enters the spread")
    pool_factor: float = Field(4.0, ge=1, description="candidates re-ranked per round, as a multiple of batch_size")
    mode: Literal["static", "relax"] = Field("static", description="candidate structures evaluated as generated "
                                                                   "or with their positions relaxed")
    settings: dict[str, Any] = Field(default_factory=dict, description="the potential's calculator settings")
    structure: StructureSpec = Field(default_factory=StructureSpec, description="candidate structure generation")
    combine: Literal["precision", "ranker"] = Field("precision", description="how the potential's calibrated "
                                                    "mean and spread meet the trees'")
    min_labels: int = Field(4, ge=MIN_CALIBRATION_LABELS, description="labels (with a ranker value) needed to "
                            "calibrate or train the ranker; with fewer the round ranks by the trees alone")
    architecture: Literal["megnet", "m3gnet", "tensornet"] = Field("megnet", description="matgl architecture (matgl)")
    members: int = Field(3, ge=2, description="networks of the ensemble (matgl, chgnet-finetune)")
    epochs: int = Field(30, ge=1, description="training epochs of each network (matgl, chgnet-finetune)")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in ranker_kinds():
            raise ValueError(f"unknown ranker {value!r}; allowed: {', '.join(ranker_kinds())}")
        return value

    @model_validator(mode="after")
    def _check_second(self) -> RankerSpec:
        allowed = [name for name in universal_potentials() if name != self.kind]
        trained = self.kind in (GNN_RANKER, FINETUNE_RANKER)
        if self.second is not None and (trained or self.second not in allowed):
            raise ValueError(f"second potential {self.second!r} for ranker {self.kind!r}; allowed: "
                             f"{'none with a trained ranker' if trained else ', '.join(allowed)}")
        return self

    @property
    def potentials(self) -> list[str]:
        """The potentials of the ranker: ``kind`` (``chgnet`` for the fine-tuned one), then ``second``."""
        return [{FINETUNE_RANKER: "chgnet"}.get(self.kind, self.kind), *([self.second] if self.second else [])]

    def settings_of(self, kind: str) -> dict[str, Any]:
        """The calculator settings of potential ``kind`` (``settings`` for the first, defaults for the second)."""
        return dict(self.settings) if kind == self.kind else {}

    def structure_maker(self, seed: int = 0) -> StructureMaker:
        """The Maker of the structures the potential evaluates, seeded with ``seed``."""
        recipe = self.structure
        return StructureMaker(name=f"ranker {self.kind}", method=recipe.method, seed=seed,
                              iterations=recipe.iterations, max_error=recipe.max_error, supercell=recipe.supercell)

    def validation_maker(self, kind: str | None = None) -> ValidationMaker:
        """Potential ``kind``'s (default: the first) validation Maker for the candidates (references: vc-relaxed)."""
        kind = kind or self.kind
        return ValidationMaker(name=f"ranker {kind}", calculator=kind, settings=self.settings_of(kind),
                               relax=self.mode == "relax", relax_cell=False)


class CampaignSpec(_Strict):
    """A whole screening campaign."""

    name: str = Field(description="campaign name")
    description: str | None = Field(None, description="free text")
    seed: int = Field(0, description="seed of every random choice")
    candidates: CandidateSpaceSpec = Field(description="the candidate space")
    descriptors: list[str] | None = Field(None, description="descriptor columns (default: the full feature set)")
    surrogate: SurrogateSpec = Field(default_factory=SurrogateSpec, description="tree-ensemble surrogate")
    acquisition: AcquisitionSpec = Field(default_factory=AcquisitionSpec, description="batch selection")
    objectives: list[ObjectiveSpec] = Field(default_factory=lambda: [ObjectiveSpec()], description="objectives")
    initial_random: int = Field(8, ge=1, description="candidates validated before the first model")
    initial_design: Literal["random", "direct"] = Field(
        "random", description="how the first candidates are chosen: at random, or 'direct' (one per cluster of "
                              "the descriptor space of a random sample of direct_sample candidates)")
    direct_sample: int = Field(20000, ge=1, description="candidates drawn at random for the 'direct' design")
    stages: list[StageSpec] = Field(description="fidelity ladder: first = active-learning oracle, then top-k checks")
    confirm_top: int = Field(2, ge=0, description="best candidates of each stage passed to the next stage")
    stopping: StoppingSpec = Field(default_factory=StoppingSpec, description="stopping rule")
    gnn: GnnSpec | None = Field(None, description="graph network trained on the labels after the last stage")
    ranker: RankerSpec | None = Field(None, description="potential that re-ranks each round's top slice")
    fidelity: FidelitySpec = Field(default_factory=FidelitySpec, description="how the first two stages share work")
    phases: PhasesSpec = Field(default_factory=PhasesSpec, description="competing phases: hull and pair filter")

    @model_validator(mode="after")
    def _check(self) -> CampaignSpec:
        self._check_space()
        names = [stage.name for stage in self.stages]
        if not names:
            raise ValueError("at least one stage is needed")
        labelled = [objective.property for objective in self.objectives if objective.labelled]
        if not labelled:
            raise ValueError(f"a campaign learns at least one labelled objective ({', '.join(PROPERTIES)}), got "
                             f"{[objective.property for objective in self.objectives]}")
        if len(set(labelled)) != len(labelled):
            raise ValueError(f"labelled objectives {labelled} repeat a property; allowed: each of "
                             f"{', '.join(PROPERTIES)} once")
        for objective in self.objectives:
            missing = untabulated(objective.property, self.candidates.elements)
            if missing:
                raise ValueError(f"objective {objective.property!r} has no value for {', '.join(missing)}; allowed "
                                 f"elements: {', '.join(tabulated_elements(objective.property))}")
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique, got {names}")
        if set(self.targets) & set(ADSORPTION_UNITS):
            self._check_site_kinds()
        if self.phases.stage is not None and self.phases.stage not in names:
            raise ValueError(f"phases stage {self.phases.stage!r} is not a stage of this campaign; allowed: {names}")
        if self.phases.single_phase is not None and is_remote(self.phases_stage.calculator):
            raise ValueError(f"phases stage {self.phases_stage.name!r} runs {self.phases_stage.calculator}, which runs "
                             f"only as a workflow; allowed for the single-phase filter: a stage whose calculator runs "
                             f"here ({', '.join(name for name in CALCULATORS if not is_remote(name))})")
        if self.gnn is not None:
            named = {stage for stage in (self.gnn.stage, self.gnn.delta_from) if stage is not None}
            unknown = sorted(named - set(names))
            if unknown:
                raise ValueError(f"gnn stages {unknown} are not stages of this campaign; allowed: {names}")
        self._check_stage_physics()
        self._check_several_labels()
        self._check_ranker()
        self._check_fidelity()
        return self

    def _check_several_labels(self) -> None:
        """Several labelled objectives are learned by the trees alone (no ranker, gnn or multi-fidelity loop)."""
        if len(self.targets) < 2:
            return
        used = [name for name, part in (("ranker", self.ranker), ("gnn", self.gnn)) if part is not None]
        if self.multi_fidelity:
            used.append("fidelity mode 'multi'")
        if used:
            raise ValueError(f"{' and '.join(used)} with the labelled objectives {self.targets}: they learn one "
                             "labelled objective; allowed with several: the tree surrogates alone (no ranker, no "
                             "gnn, fidelity mode 'ladder')")

    @property
    def phases_stage(self) -> StageSpec:
        """The stage whose calculator computes the single-phase filter's pair enthalpies."""
        return next(stage for stage in self.stages if stage.name == (self.phases.stage or self.stages[0].name))

    @property
    def multi_fidelity(self) -> bool:
        """Whether the second stage labels candidates inside the active-learning loop."""
        return self.fidelity.mode == "multi"

    def _check_fidelity(self) -> None:
        """A multi-fidelity loop needs a second stage and learns one objective (a ranker re-ranks its first stage's)."""
        if not self.multi_fidelity:
            return
        if len(self.stages) < 2:
            raise ValueError(f"fidelity mode 'multi' needs two stages or more, got {[s.name for s in self.stages]}; "
                             f"allowed with one stage: mode 'ladder'")
        if len(self.objectives) > 1:
            raise ValueError("fidelity mode 'multi' learns one objective; allowed: mode 'ladder' with several "
                             "objectives")

    def _check_ranker(self) -> None:
        """A ranker re-ranks one objective; a potential's is a mixing energy, over a pool it treats."""
        if self.ranker is None:
            return
        if len(self.objectives) > 1:
            raise ValueError(f"ranker {self.ranker.kind!r} re-ranks single-objective campaigns; allowed: one "
                             f"objective (got {[o.property for o in self.objectives]})")
        if self.ranker.kind == GNN_RANKER:
            return
        if self.target != "mixing_energy_per_atom":
            raise ValueError(f"ranker {self.ranker.kind!r} predicts mixing energies, not {self.target}; allowed for "
                             f"{self.target}: {GNN_RANKER}")
        for kind in self.ranker.potentials:
            try:
                pool_settings(kind, self.element_pool, self.ranker.settings_of(kind))
            except AlloyscreenError as error:
                raise ValueError(f"ranker {kind!r}: {error}") from None

    def _check_space(self) -> None:
        """Build the candidate space (every check of its elements, fractions and bounds) and bound its size."""
        space = CandidateSpace(self.candidates)
        limit = get_settings().max_space_size
        if space.size > limit:
            raise ValueError(
                f"the candidate space holds {space.size:,} candidates{'' if space.size_is_exact else ' at most'}, "
                f"above the limit of {limit:,} (setting ALLOYSCREEN_MAX_SPACE_SIZE); allowed: a sample "
                "(sampling kind dirichlet or sobol), descriptor windows, a coarser step, fewer elements or components")

    @property
    def candidate_elements(self) -> list[str]:
        """The elements the candidates are made of."""
        pool = set(self.candidates.elements) or set(CandidateSpace(self.candidates).elements)
        return sorted(pool - set(self.candidates.excluded))

    @property
    def element_pool(self) -> list[str]:
        """Every element a calculation of the campaign may hold: the candidates' and its adsorption labels'.

        The latter: adsorbates, gas molecules and reference metals (:func:`label_elements`).
        """
        adsorbed = {element for target in self.targets if target in ADSORPTION_UNITS
                    for element in label_elements(target)}
        return sorted(set(self.candidate_elements) | adsorbed)

    def _check_site_kinds(self) -> None:
        """Refuse a site kind set for a stage that the candidates' prototype's facet cannot have (auto: any facet's).

        The default kinds are drawn from as far as the facet has them. A grid
        activity (ORR, CO2RR) needs square fcc(111) slabs.
        """
        prototype = self.candidates.prototype
        grid = [target for target in self.targets if target in GRID_ACTIVITIES]
        if grid and prototype != "fcc":
            raise ValueError(f"objective {grid[0]!r} needs the on-top and fcc hollow sites of a square fcc(111) "
                             f"slab; allowed: candidates.prototype fcc, got {prototype!r}")
        for stage in self.stages if grid else []:
            if stage.slab.size[0] != stage.slab.size[1]:
                raise ValueError(f"stage {stage.name!r}: objective {grid[0]!r} needs a square slab; allowed: "
                                 f"size [n, n], got {list(stage.slab.size)}")
        if prototype not in FACET_SITE_KINDS:
            return
        allowed = FACET_SITE_KINDS[prototype]
        for stage in self.stages:
            chosen = stage.slab.site_kinds if "site_kinds" in stage.slab.model_fields_set else []
            wrong = [kind for kind in chosen if kind not in allowed]
            if wrong:
                raise ValueError(f"stage {stage.name!r}: site kind {wrong[0]!r} is not on the {prototype} slab's "
                                 f"({FACETS[prototype]}) facet; allowed: {', '.join(allowed)}")

    def _check_stage_physics(self) -> None:
        """Resolve each stage's settings for the element pool: a bad setting or element fails at load.

        A pseudopotential directory that does not exist on this host (a spec
        written for a cluster) is checked where the stage runs.
        """
        pool = self.element_pool
        other = next((target for target in self.targets if target != "mixing_energy_per_atom"), None)
        for stage in self.stages:
            if is_remote(stage.calculator) and other is not None:
                raise ValueError(f"stage {stage.name!r}: a {stage.calculator} stage labels mixing_energy only, not "
                                 f"{other}; allowed for {other}: "
                                 f"{', '.join(name for name in CALCULATORS if not is_remote(name))}")
            self._check_fit(stage, pool)
            outside = sorted(set(stage.antiferromagnetic) - set(pool))
            if outside:
                raise ValueError(f"stage {stage.name!r}: antiferromagnetic element {outside[0]!r} is not in the "
                                 f"element pool; allowed: {', '.join(pool)}")
            try:
                settings = pool_settings(stage.calculator, pool, stage.settings)
            except MissingPseudoDirectoryError:
                continue
            except AlloyscreenError as error:
                raise ValueError(f"stage {stage.name!r}: {error}") from None
            calc = get_calculator(stage.calculator)
            if stage.antiferromagnetic and not calc.spin_polarised(settings):
                raise ValueError(f"stage {stage.name!r}: antiferromagnetic starts need spin-polarised calculations; "
                                 f"allowed: a calculator and settings with spin (e.g. qe with spin: true)")

    @staticmethod
    def _check_fit(stage: StageSpec, pool: list[str]) -> None:
        """Refuse an element the stage's calculator is known to get wrong unless the stage accepts it."""
        outside = sorted(set(stage.accept_unfit) - set(pool))
        if outside:
            raise ValueError(f"stage {stage.name!r}: accept_unfit element {outside[0]!r} is not in the element pool; "
                             f"allowed: {', '.join(pool)}")
        unfit = {element: why for element, why in known_limits(stage.calculator, pool).items()
                 if element not in stage.accept_unfit}
        if unfit:
            element, why = next(iter(unfit.items()))
            fitting = [name for name in fitting_calculators(element) if name != stage.calculator]
            raise ValueError(f"stage {stage.name!r}: {stage.calculator} is unfit for {element}: {why}; allowed: a "
                             f"calculator that fits {element} ({', '.join(fitting)}), or accept_unfit: [{element}] "
                             "on the stage")

    @property
    def labelled_objectives(self) -> list[ObjectiveSpec]:
        """The objectives validations label, in spec order (one surrogate each)."""
        return [objective for objective in self.objectives if objective.labelled]

    @property
    def labelled_objective(self) -> ObjectiveSpec:
        """The first labelled objective (the one rankers, GNNs and the reports' parity plots follow)."""
        return self.labelled_objectives[0]

    @property
    def targets(self) -> list[str]:
        """The label properties the campaign learns, in spec order (e.g. ``delta_g_h``, ``mixing_energy_per_atom``)."""
        return [objective.name for objective in self.labelled_objectives]

    @property
    def target(self) -> str:
        """The first label property the campaign learns, e.g. ``delta_g_h``."""
        return self.labelled_objective.name

    @property
    def target_unit(self) -> str:
        """The unit of :attr:`target`, e.g. ``eV``."""
        return self.labelled_objective.unit

    @property
    def campaign_id(self) -> str:
        """The campaign id: content hash of the spec's values that differ from their defaults.

        A field added to the spec later, at its default, leaves every campaign's id as it was.
        """
        return content_hash(self.model_dump(mode="json", exclude_defaults=True))


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Every pydantic model named by a type annotation (through lists, unions, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in getattr(annotation, "__args__", ()) for model in _models_in(arg)]


def _describe(error: ErrorDetails) -> str:
    """One line for a validation error; an unknown key names the closest valid one."""
    location = [str(part) for part in error["loc"]]
    where = ".".join(location)
    if error["type"] == "value_error":  # our own checks: the message names the value and what is allowed
        message = error["msg"].removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    if error["type"] != "extra_forbidden":
        got = "" if isinstance(error.get("input"), dict) else f" (got {error.get('input')!r})"
        return f"{where or 'spec'}: {error['msg']}{got}"
    models: list[type[BaseModel]] = [CampaignSpec]
    for part in location[:-1]:
        inner = [m for model in models if part in model.model_fields
                 for m in _models_in(model.model_fields[part].annotation)]
        tagged = [model for model in models if getattr(model.model_fields.get("kind"), "default", None) == part]
        models = inner or tagged or models
    allowed = sorted({name for model in models for name in model.model_fields})
    guess = difflib.get_close_matches(location[-1], allowed, n=1)
    hint = f"did you mean {guess[0]!r}?" if guess else f"allowed: {', '.join(allowed)}"
    return f"unknown key {where!r}: {hint}"


def load_spec(source: str | Path | dict[str, Any]) -> CampaignSpec:
    """Read and validate a campaign spec from a yaml file or a mapping; one clear line on error."""
    if isinstance(source, dict):
        data = source
    else:
        path = Path(source)
        try:
            data = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise AlloyscreenError(f"campaign spec {str(path)!r} does not exist") from None
        except UnicodeDecodeError as error:
            raise AlloyscreenError(f"campaign spec {str(path)!r} is not UTF-8 text ({error.reason} at byte "
                                   f"{error.start}); allowed: a UTF-8 yaml file") from None
        except yaml.YAMLError as error:
            raise AlloyscreenError(f"campaign spec {str(path)!r} is not valid yaml: {error}".splitlines()[0]) from None
    if not isinstance(data, dict):
        raise AlloyscreenError("a campaign spec must be a mapping of keys (name, candidates, stages, ...)")
    try:
        return CampaignSpec.model_validate(data)
    except ValidationError as error:
        errors = sorted(error.errors(), key=lambda e: e["type"] != "extra_forbidden")
        raise AlloyscreenError(f"invalid campaign spec: {_describe(errors[0])}") from None
