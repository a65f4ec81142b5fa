"""Documents of the ``calculations`` collection: one per (structure, calculator, settings, code version)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alloyscreen.schemas.base import Document


class Correction(BaseModel):
    """One automatic correction applied after a failed attempt (never silent)."""

    model_config = ConfigDict(extra="forbid")

    step: int = Field(description="1 for the first retry, 2 for the second ...")
    reason: str = Field(description="why the previous attempt was not accepted")
    changes: dict[str, Any] = Field(description="settings changed for the retry, name -> new value")


class CalculationDocument(Document):
    """A calculation: a claim while ``running``, then its results or its failure reason."""

    status: Literal["running", "completed", "failed"] = Field(description="state of the calculation")
    calculator: str = Field(description="registry name of the calculator: emt, chgnet, sevennet, qe, vasp")
    settings: dict[str, Any] = Field(description="resolved calculator settings (all that changes the result)")
    code_version: str | None = Field(None, description="version of the code that computed the result")
    formula: str | None = Field(None, description="reduced formula of the structure")
    n_atoms: int | None = Field(None, description="number of atoms in the cell")
    input_structure: dict[str, Any] | None = Field(None, description="input structure (pymatgen dict)")
    energy: float | None = Field(None, description="total energy of the final structure (eV)")
    energy_per_atom: float | None = Field(None, description="total energy per atom (eV/atom)")
    forces: list[list[float]] | None = Field(None, description="forces on the final structure (eV/Angstrom)")
    stress: list[list[float]] | None = Field(None, description="3x3 stress of the final structure (GPa)")
    final_structure: dict[str, Any] | None = Field(None, description="final structure (pymatgen dict)")
    total_magnetization: float | None = Field(None, description="total magnetisation of the cell (Bohr magneton)")
    magmoms: list[float] | None = Field(None, description="site magnetic moments (Bohr magneton)")
    converged: bool | None = Field(None, description="electronic and ionic convergence reached")
    n_ionic_steps: int | None = Field(None, description="number of ionic steps taken")
    corrections: list[Correction] | None = Field(None, description="automatic corrections, in order")
    error: str | None = Field(None, description="why the calculation failed, parsed from its output")
    attempts: int = Field(1, ge=1, description="times the calculation was run: 1, plus reruns after a failure")
    earlier_errors: list[str] | None = Field(None, description="why each earlier attempt failed, in order")
    wall_time_s: float | None = Field(None, description="wall time of all attempts together (s)")
    n_cores: int | None = Field(None, description="CPU cores charged (cores): inside a SLURM job those it "
                                "allocated to the job on the node, else those the program used (pw.x: MPI "
                                "ranks x threads; a GNN: torch threads; EMT: 1)")
    cores_from: Literal["slurm", "program"] | None = Field(
        None, description="where n_cores came from: 'slurm' (the job's allocation) or 'program' (what it used)")
    core_hours: float | None = Field(None, description="wall time x cores (core hours)")
    directory: str | None = Field(None, description="host:path of the run directory, if any")
    files: dict[str, str] | None = Field(None, description="file name (dots replaced by _) -> GridFS id")

    @field_validator("input_structure", "final_structure", mode="before")
    @classmethod
    def _structure_as_dict(cls, value: Any) -> Any:
        """Accept pymatgen objects (jobflow decodes their dicts) and keep their dicts."""
        return value.as_dict() if hasattr(value, "as_dict") else value
