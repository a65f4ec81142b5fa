"""The ``structures`` document: a generated SQS, random solid solution or slab."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from alloyscreen.hashing import content_hash
from alloyscreen.schemas.base import Document
from alloyscreen.schemas.provenance import Provenance

StructureKind = Literal["bulk-sqs", "bulk-random", "bulk-element", "slab", "slab-adsorbate"]
Prototype = Literal["fcc", "bcc", "hcp"]  # the parent lattices of candidates: the one declaration
LATTICE_PROTOTYPES: tuple[Prototype, ...] = get_args(Prototype)
SiteKind = Literal["top", "bridge", "fcc", "hcp", "hollow"]
Adsorbate = Literal["H", "O", "OH"]


class BulkGenerator(BaseModel):
    """Settings and outcome of a bulk generator (SQS, random solid solution, or a pure element's primitive cell)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["sqs", "random", "element"] = Field(
        description="special quasirandom structure, random decoration, or (one element) its primitive cell")
    library: str | None = Field(None, description="SQS library and version, e.g. 'sqsgenerator 0.5.6'")
    seed: int = Field(description="seed of the random number generator")
    prototype: Prototype = Field(description="parent lattice")
    supercell: list[int] = Field(description="repeats of the conventional cell along a, b, c ([] for a primitive "
                                             "cell)")
    a: float = Field(description="lattice constant a from Vegard's law (Å)")
    c: float | None = Field(None, description="lattice constant c from Vegard's law (Å), hcp only")
    shell_weights: dict[str, float] = Field(
        description="weight of each coordination shell (key: shell number) in the SRO objective"
    )
    iterations: int | None = Field(None, description="Monte Carlo iterations of the SQS search")
    library_objective: float | None = Field(None, description="objective reported by the SQS library")
    sro_objective: float = Field(
        description="sum over shells of weight * mean |Warren-Cowley alpha| "
        "(alloyscreen.structures.sro); 0 = random"
    )


class SlabGenerator(BaseModel):
    """Settings of a slab (and adsorbate) generator."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(description="seed of the random decoration")
    prototype: Prototype = Field(description="parent lattice")
    facet: Literal["111", "110", "0001"] = Field(
        description="surface facet (Miller or Miller-Bravais indices)"
    )
    size: list[int] = Field(description="surface repeats along the two in-plane cell vectors")
    layers: int = Field(description="number of atomic layers")
    fixed_layers: int = Field(description="bottom layers held fixed (selective_dynamics False)")
    vacuum: float = Field(description="vacuum gap between periodic images of the slab (Å)")
    a: float = Field(description="lattice constant a from Vegard's law (Å)")
    c: float | None = Field(None, description="lattice constant c from Vegard's law (Å), hcp only")


class AdsorptionSite(BaseModel):
    """An adsorption site and the local composition HEA catalysis models use."""

    model_config = ConfigDict(extra="forbid")

    kind: SiteKind = Field(description="top, bridge, fcc or hcp hollow, or a 3-fold hollow of bcc(110)")
    position: list[float] = Field(description="Cartesian position of the site in the surface plane (Å)")
    atom_indices: list[int] = Field(description="indices of the 1, 2 or 3 surface atoms forming the site")
    site_counts: dict[str, int] = Field(description="element -> number among the atoms forming the site")
    surface_neighbor_counts: dict[str, int] = Field(
        description="element -> number of top-layer nearest neighbours of the site atoms "
        "(site atoms excluded)"
    )
    subsurface_neighbor_counts: dict[str, int] = Field(
        description="element -> number of nearest neighbours of the site atoms in the second layer"
    )
    adsorbate: Adsorbate | None = Field(None, description="adsorbate placed on the site, if any")
    height: float | None = Field(
        None, description="height of the binding atom above the site atoms' mean plane (Å)"
    )


class StructureDocument(Document):
    """A generated structure; ``_id`` is the content hash of structure and generator settings."""

    candidate_id: str | None = Field(None, description="id of the candidate the structure represents")
    kind: StructureKind = Field(description="bulk-sqs, bulk-random, bulk-element, slab or slab-adsorbate")
    prototype: Prototype = Field(description="parent lattice")
    structure: dict[str, Any] = Field(description="pymatgen Structure.as_dict()")
    generator: BulkGenerator | SlabGenerator = Field(description="generator settings and outcome")
    n_atoms: int = Field(description="number of atoms in the cell")
    composition: dict[str, float] = Field(description="target composition: element -> atomic fraction")
    counts: dict[str, int] = Field(description="element -> number of atoms of the alloy (adsorbate excluded)")
    composition_error: float = Field(description="max over elements of |count/N - fraction| (dimensionless)")
    site: AdsorptionSite | None = Field(None, description="adsorption site, for slab-adsorbate structures")

    @classmethod
    def build(cls, *, structure: dict[str, Any], generator: BulkGenerator | SlabGenerator,
              provenance: Provenance | None = None, **fields: Any) -> StructureDocument:
        """Build the document, deriving ``_id`` from structure, generator settings and site."""
        site = fields.get("site")
        key = {"structure": structure, "generator": generator, "site": site}
        return cls(
            id=content_hash(key), structure=structure, generator=generator,
            provenance=provenance or Provenance(), **fields,
        )
