"""The spec section that defines a candidate space (the ``candidates:`` block of a campaign yaml)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alloyscreen.errors import AlloyscreenError
from alloyscreen.schemas.structure import LATTICE_PROTOTYPES

PROTOTYPES = (*LATTICE_PROTOTYPES, "auto")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GridSampling(_Strict):
    """Every composition whose fractions are multiples of ``step``."""

    kind: Literal["grid"] = "grid"
    step: float = Field(description="fraction step; 1/step must be an integer (e.g. 0.05)")


class DirichletSampling(_Strict):
    """``n_samples`` compositions drawn from a symmetric Dirichlet distribution."""

    kind: Literal["dirichlet"] = "dirichlet"
    n_samples: int = Field(description="number of candidates")
    alpha: float = Field(1.0, description="Dirichlet concentration; 1 = uniform on the simplex")
    seed: int = Field(0, description="seed of numpy's PCG64 generator")


class SobolSampling(_Strict):
    """``n_samples`` compositions from a scrambled Sobol sequence mapped uniformly onto the simplex."""

    kind: Literal["sobol"] = "sobol"
    n_samples: int = Field(description="number of candidates")
    seed: int = Field(0, description="seed of the Sobol scrambling (scipy.stats.qmc.Sobol)")


class ExplicitList(_Strict):
    """Compositions given one by one (formulas or ``{symbol: amount}`` maps)."""

    kind: Literal["explicit"] = "explicit"
    compositions: list[str | dict[str, float]] = Field(description="formulas or element -> amount maps")


Sampling = Annotated[GridSampling | DirichletSampling | SobolSampling | ExplicitList, Field(discriminator="kind")]


class CandidateSpaceSpec(_Strict):
    """A candidate space: element pool, number of components, sampling, constraints and prototype.

    Bounds (``min_fraction``/``max_fraction``) apply to an element when it is present; list it in
    ``required`` to force it into every candidate (the PtPdXYZ family: ``required: [Pt, Pd]``,
    ``elements: [Pt, Pd, Fe, Co, Ni, Cu]``, ``n_components: 5``).
    """

    elements: list[str] = Field(default_factory=list, description="element pool; optional for an explicit list")
    n_components: int | tuple[int, int] | None = Field(
        None, description="number of elements per candidate, one value or [min, max]; required except for a list"
    )
    sampling: Sampling = Field(description="grid, dirichlet, sobol or explicit")
    min_fraction: dict[str, float] = Field(default_factory=dict, description="element -> minimum atomic fraction")
    max_fraction: dict[str, float] = Field(default_factory=dict, description="element -> maximum atomic fraction")
    required: list[str] = Field(default_factory=list, description="elements present in every candidate")
    excluded: list[str] = Field(default_factory=list, description="elements never used")
    excluded_pairs: list[tuple[str, str]] = Field(default_factory=list, description="pairs never together")
    windows: dict[str, tuple[float | None, float | None]] = Field(
        default_factory=dict,
        description="descriptor column (alloyscreen.descriptors.COLUMNS) -> [min, max], inclusive; null = open",
    )
    prototype: str = Field("auto", description="fcc, bcc, hcp, or auto (VEC rule, see candidates.identity)")
    mixed_prototype: Literal["nearest", "fcc", "bcc"] = Field(
        "nearest", description="auto prototype for 6.87 <= VEC < 8: nearest single-phase boundary, fcc or bcc"
    )

    @classmethod
    def parse(cls, data: dict[str, Any]) -> CandidateSpaceSpec:
        """Validate a spec mapping; malformed input raises AlloyscreenError with one line."""
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "candidates"
            raise AlloyscreenError(f"candidates spec {where}={first.get('input')!r}: {first['msg']}") from None
