"""Cost of each calculator on this machine, and pw.x lattice constants against all-electron PBE.

Prints one JSON document:

- ``timings``: wall seconds and core-hours of one static calculation against the
  number of atoms, for EMT, CHGNet and pw.x (fcc Cu supercells; pw.x on small cells);
- ``lattice_constants``: vc-relaxed lattice constants of fcc Cu, Ni, Pt, Rh and
  bcc Fe, Cr from pw.x (default pseudopotential registry and header cutoffs)
  next to all-electron PBE values;
- ``cuni_mixing`` (``--mixing``): the mixing energy of fcc CuNi with pw.x at the
  settings of the pool {Cu, Ni} (:func:`pool_settings`), then with ``ecutwfc`` and
  ``ecutrho`` multiplied by 1.3 (``--cutoff-factors``), everything else equal: the
  cutoff convergence of a label, its winning reference crystals and wall times.

Timings and lattice constants run directly (no database, no cache) in a temporary
directory. The mixing energies go through the campaign's labelling
(:func:`label_candidate`), so they use the configured database: set
``ALLOYSCREEN_DATA_DIR`` to keep them apart from a campaign's (calculations already
in it are reused and reported with ``reused: true``; their ``wall_s`` is that of
the original run).
Usage: ``python benchmarks/validation.py [--kspacing 0.4] [--skip-lattice] [--skip-timings]
[--mixing [--mixing-kspacing 0.35] [--mixing-mode vc-relax] [--cutoff-factors 1.0 1.3]] [--quick]``.

``--quick`` (a check of the script, not a figure): timings of EMT on 4 and 32 atoms, CHGNet
on 4 and pw.x on the 1-atom Cu cell (k-spacing 0.6), the lattice constant of Cu alone
(k-spacing 0.8), with ``--mixing`` one cutoff factor; in a throwaway data directory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure
from scratch import scratch_database

from alloyscreen.validation.physics import pool_settings
from alloyscreen.validation.registry import get_calculator

# Equilibrium volumes (A^3/atom) of the Delta-project WIEN2k all-electron PBE set
# (Lejaeghere et al., Science 351, aad3000 (2016)), converted to cubic lattice
# constants; quoted from memory to about +-0.01 A. Fe and Ni ferromagnetic, Cr antiferromagnetic.
PBE_REFERENCE = {
    "Cu": ("fcc", 11.95), "Ni": ("fcc", 10.89), "Pt": ("fcc", 15.64),
    "Rh": ("fcc", 14.04), "Fe": ("bcc", 11.35), "Cr": ("bcc", 11.77),
}
REFERENCE_SOURCE = (
    "all-electron PBE (WIEN2k) equilibrium volumes of the Delta project, Lejaeghere et al., Science 351, "
    "aad3000 (2016), converted to lattice constants; quoted from memory, about +-0.01 A; Cr there is "
    "antiferromagnetic, here a ferromagnetic start in a 1-atom cell"
)


def cubic_constant(lattice: str, volume_per_atom: float) -> float:
    """Return the conventional cubic lattice constant for a volume per atom."""
    return (volume_per_atom * (4 if lattice == "fcc" else 2)) ** (1 / 3)


def primitive(element: str, lattice: str, a: float) -> Structure:
    """Return the one-atom primitive fcc or bcc cell."""
    if lattice == "fcc":
        return Structure(Lattice.from_parameters(*(3 * [a / 2**0.5]), 60, 60, 60), [element], [[0, 0, 0]])
    angle = float(np.degrees(np.arccos(-1 / 3)))
    return Structure(Lattice.from_parameters(*(3 * [a * 3**0.5 / 2]), angle, angle, angle), [element], [[0, 0, 0]])


def fcc_supercell(n: int, a: float = 3.61) -> Structure:
    """Return an n x n x n supercell of the 4-atom conventional fcc Cu cell (with one Ni for disorder)."""
    cell = Structure(Lattice.cubic(a), ["Cu"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    cell.make_supercell([n, n, n])
    cell.replace(0, "Ni")
    return cell


def run(calculator: str, structure: Structure, settings: dict, mode: str, workdir: Path) -> dict:
    """Run one calculation directly; return its document fields."""
    calc = get_calculator(calculator)
    physics, run_settings = calc.resolve(structure, settings, mode)
    return calc.run(structure, physics, run_settings, workdir / f"{calculator}-{time.perf_counter_ns()}")


def timings(workdir: Path, quick: bool = False) -> list[dict]:
    """Static calculations of growing size for every calculator that runs here (``quick``: the smallest)."""
    plan = [("emt", n, {}) for n in ((1, 2) if quick else (1, 2, 3, 4))] + [
        ("chgnet", n, {}) for n in ((1,) if quick else (1, 2, 3))]
    rows = []
    for calculator, n, settings in plan:
        # warm-up (imports, model loading) on another cell: ASE calculators reuse results of identical atoms
        run(calculator, fcc_supercell(1, a=3.65), settings, "static", workdir)
        fields = run(calculator, fcc_supercell(n), settings, "static", workdir)
        rows.append({"calculator": calculator, "n_atoms": 4 * n**3, "wall_s": round(fields["wall_time_s"], 4),
                     "n_cores": fields["n_cores"], "core_hours": fields["core_hours"]})
    qe_cells = [primitive("Cu", "fcc", 3.63), Structure(Lattice.cubic(2.88), ["Cu", "Ni"], [[0, 0, 0], [0.5] * 3])]
    for cell in qe_cells[:1] if quick else qe_cells:
        fields = run("qe", cell, {"kspacing": 0.6 if quick else 0.3}, "static", workdir)
        rows.append({"calculator": "qe", "n_atoms": len(cell), "formula": cell.composition.reduced_formula,
                     "spin": "Ni" in cell.composition, "wall_s": round(fields["wall_time_s"], 2),
                     "n_cores": fields["n_cores"], "core_hours": fields["core_hours"], "status": fields["status"]})
    return rows


def lattice_constants(workdir: Path, kspacing: float, elements: list[str] | None = None) -> list[dict]:
    """vc-relax one-atom cells with pw.x (of ``elements``, default all); compare with the all-electron PBE values."""
    rows = []
    for element, (lattice, volume) in PBE_REFERENCE.items():
        if elements is not None and element not in elements:
            continue
        reference = cubic_constant(lattice, volume)
        calc = get_calculator("qe")
        cell = primitive(element, lattice, reference * 1.01)
        physics, run_settings = calc.resolve(cell, {"kspacing": kspacing}, "vc-relax")
        fields = calc.run(cell, physics, run_settings, workdir / f"lattice-{element}")
        row = {"element": element, "lattice": lattice, "status": fields["status"], "a_pbe_ref_A": round(reference, 3),
               "pseudopotential": physics["pseudopotentials"][element], "ecutwfc_Ry": physics["ecutwfc"],
               "ecutrho_Ry": physics["ecutrho"], "kpts": physics["kpts"], "wall_s": round(fields["wall_time_s"], 1)}
        if fields["status"] == "completed":
            final = Structure.from_dict(fields["final_structure"])
            a = cubic_constant(lattice, final.volume)
            row.update({"a_qe_A": round(a, 3), "error_percent": round(100 * (a / reference - 1), 2),
                        "magnetization_muB": fields["total_magnetization"]})
        else:
            row["error"] = fields["error"]
        rows.append(row)
    return rows


def cuni_mixing(kspacing: float | None, factors: list[float], mode: str, seed: int = 0) -> dict:
    """Mixing energy of fcc CuNi (random solid solution, smallest exact cell) at scaled pool cutoffs.

    One :class:`MixingEnergyMaker` label per cutoff factor, with the settings of the pool
    {Cu, Ni} and ``ecutwfc``, ``ecutrho`` times the factor (``kspacing``, if given,
    the same for all); references are the lowest of fcc/bcc/hcp vc-relaxed at the
    same settings. Returns the per-factor rows and the differences to the first.
    """
    from alloyscreen.campaign.labels.labelling import Candidate, label_candidate
    from alloyscreen.campaign.spec import StageSpec, StructureSpec
    from alloyscreen.candidates import candidate_id
    from alloyscreen.db.client import get_database
    from alloyscreen.db.init import init_database
    from alloyscreen.settings import get_settings
    from alloyscreen.structures.elements import elemental_crystals
    from alloyscreen.validation.maker import prepare
    from alloyscreen.validation.targets import MixingEnergyMaker

    database = get_database()
    init_database(database)
    composition = {"Cu": 0.5, "Ni": 0.5}
    candidate = Candidate(id=candidate_id(composition, "fcc"), composition=composition, prototype="fcc")
    kspacing = float(kspacing if kspacing is not None else get_calculator("qe").defaults["kspacing"])
    base = pool_settings("qe", list(composition), {"kspacing": kspacing})
    rows = []
    for factor in factors:
        settings = {**base, **{key: round(base[key] * factor, 2) for key in ("ecutwfc", "ecutrho")}}
        stage = StageSpec(name=f"cuni-cutoff-{factor}", calculator="qe", mode=mode, settings=settings,
                          structure=StructureSpec(method="random"), max_validations=1)
        start = time.perf_counter()
        label = MixingEnergyMaker(name=stage.name, validation=stage.validation_maker())
        outcome = label_candidate(candidate, stage, label, None, seed)
        row: dict = {"cutoff_factor": factor, "ecutwfc_Ry": settings["ecutwfc"], "ecutrho_Ry": settings["ecutrho"],
                     "status": outcome.status, "error": outcome.error, "mixing_energy_eV_per_atom": outcome.value,
                     "wall_s": round(time.perf_counter() - start, 1)}
        calculations = database["calculations"]
        alloy = calculations.find_one({"_id": outcome.calculation_id}) if outcome.calculation_id else None
        if alloy is not None:
            final = Structure.from_dict(alloy.get("final_structure") or alloy["input_structure"])
            row["alloy"] = {"calculation_id": alloy["_id"], "reused": outcome.reused, "n_atoms": len(final),
                            "species": [site.specie.symbol for site in final], "kpts": alloy["settings"]["kpts"],
                            "spin": alloy["settings"]["spin"], "wall_s": round(float(alloy.get("wall_time_s") or 0), 1),
                            "energy_per_atom_eV": alloy.get("energy_per_atom"),
                            "volume_per_atom_A3": round(final.volume / len(final), 3),
                            "total_magnetization_muB": alloy.get("total_magnetization"),
                            "corrections": len(alloy.get("corrections") or [])}
            generated = database["structures"].find_one({"_id": outcome.structure_id}) or {}
            generator = generated.get("generator", {})
            row["alloy"].update({key: generator.get(key) for key in ("supercell", "sro_objective")})
        label = database["labels"].find_one({"_id": outcome.label_id}) if outcome.label_id else None
        if label is not None:
            row["references"] = {}
            for element, summary in sorted(label["details"]["references"].items()):
                winner = calculations.find_one({"_id": summary["calculation_id"]})
                final = Structure.from_dict(winner.get("final_structure") or winner["input_structure"])
                row["references"][element] = {
                    "winner": summary["crystal"], "energies_per_atom_eV": summary["candidates"],
                    "winner_volume_per_atom_A3": round(final.volume / len(final), 3),
                    "winner_total_magnetization_muB": winner.get("total_magnetization")}
        # every candidate crystal of each reference at these settings, found by its calculation id (failed ones,
        # which a label does not keep, too)
        pooled = pool_settings("qe", list(composition), settings)
        row["reference_calculations"] = {}
        for element in composition:
            for crystal, cell in elemental_crystals(element).items():
                doc = calculations.find_one({"_id": prepare(cell, "qe", pooled, "vc-relax").key}) or {}
                row["reference_calculations"][f"{element} {crystal}"] = {
                    "status": doc.get("status", "not run"), "error": doc.get("error"), "n_atoms": len(cell),
                    "kpts": doc.get("settings", {}).get("kpts"), "wall_s": round(float(doc.get("wall_time_s") or 0), 1),
                    "energy_per_atom_eV": doc.get("energy_per_atom"), "corrections": len(doc.get("corrections") or [])}
        print(json.dumps(row), file=sys.stderr, flush=True)  # partial results, should a long run be stopped
        rows.append(row)
    first = rows[0]["mixing_energy_eV_per_atom"]
    for row in rows[1:]:
        value = row["mixing_energy_eV_per_atom"]
        row["difference_to_first_meV_per_atom"] = (None if value is None or first is None
                                                   else round(1000 * (value - first), 2))
    return {"composition": composition, "prototype": "fcc", "structure": f"random solid solution, seed {seed}",
            "mode": mode, "kspacing_per_A": kspacing,
            "pool_settings": {key: base[key] for key in ("pseudopotentials", "ecutwfc", "ecutrho", "spin", "magmoms")},
            "data_dir": str(get_settings().data_dir), "levels": rows}


def main() -> None:
    """Run the benchmark and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kspacing", type=float, default=0.4, help="k-point spacing of the vc-relaxations (1/A)")
    parser.add_argument("--skip-lattice", action="store_true", help="no lattice constants")
    parser.add_argument("--skip-timings", action="store_true", help="no timings")
    parser.add_argument("--mixing", action="store_true",
                        help="CuNi mixing energy at the {Cu, Ni} pool settings and scaled cutoffs (uses the database)")
    parser.add_argument("--mixing-kspacing", type=float, default=None,
                        help="k-point spacing of every CuNi calculation (1/A; default: the calculator's, 0.25)")
    parser.add_argument("--mixing-mode", choices=["static", "relax", "vc-relax"], default="vc-relax",
                        help="mode of the CuNi alloy calculation (references are always vc-relaxed)")
    parser.add_argument("--cutoff-factors", type=float, nargs="+", default=[1.0, 1.3],
                        help="factors on the pool's ecutwfc and ecutrho; differences are to the first")
    parser.add_argument("--quick", action="store_true",
                        help="the smallest timings, Cu's lattice constant at k-spacing 0.8, one cutoff factor; "
                             "throwaway data dir")
    args = parser.parse_args()
    if args.quick:
        parser.set_defaults(kspacing=0.8, cutoff_factors=[1.0])  # what is given explicitly still counts
        args = parser.parse_args()
    start = time.perf_counter()
    # chatter of the calculators (CHGNet prints on load) goes to stderr: stdout is the JSON only
    with contextlib.ExitStack() as stack:
        if args.quick:
            stack.enter_context(scratch_database("validation"))
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="alloyscreen-bench-"))
        stack.enter_context(contextlib.redirect_stdout(sys.stderr))
        result = {"machine": {"node": platform.node(), "processor": platform.processor() or platform.machine()}}
        if not args.skip_timings:
            result["timings"] = timings(Path(tmp), args.quick)
        if not args.skip_lattice:
            result["lattice_constants"] = lattice_constants(Path(tmp), args.kspacing, ["Cu"] if args.quick else None)
            result["lattice_reference_source"] = REFERENCE_SOURCE
        if args.mixing:
            result["cuni_mixing"] = cuni_mixing(args.mixing_kspacing, args.cutoff_factors, args.mixing_mode)
    result["total_wall_s"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
