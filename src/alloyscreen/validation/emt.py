"""ASE EMT through atomate2's ``EmtRelaxMaker``: the fast oracle for tests and discovery benchmarks."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import ase
from pymatgen.core import Structure

from alloyscreen.validation.ase_runner import ase_retry, maker_options, run_ase_maker
from alloyscreen.validation.base import Calculator, check_elements, check_structure, split_settings

EMT_ELEMENTS = ("Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt", "H", "C", "N", "O")
# Elements EMT treats but gets wrong, with the evidence: a campaign stage refuses them unless its spec accepts them.
EMT_KNOWN_LIMITS = {
    "Al": "its Al-transition-metal mixing energies are wrong in sign (measured here, `alloyscreen phases Ni Al "
          "--calculator emt`: L1_2 AlNi3 +0.26 and B2 AlNi +0.35 eV/atom, against about -0.45 and -0.6 to -0.7 "
          "eV/atom by calorimetry, Hultgren et al., Selected Values of the Thermodynamic Properties of Binary "
          "Alloys, ASM 1973, and about -0.45 and -0.70 by CHGNet)",
    "H": "its H adsorption energies barely depend on the metal (measured here on pure (111) 3x3x4 slabs, H in the "
         "fcc hollow, positions relaxed: dE_H -0.52 Pt, -0.50 Pd, -0.49 Cu, -0.46 Au, -0.47 Ag eV), so Au and Ag "
         "bind H like Pt, where DFT leaves H on Au and Ag unbound (dG_H > 0) and Pt near dG_H = 0 (Norskov et al., "
         "J. Electrochem. Soc. 152, J23 (2005))",
    "O": "its O and OH adsorption energies barely depend on the metal and have the wrong sign (measured here on pure "
         "(111) 3x3x4 slabs, positions relaxed: dG_OH on top -0.75 Pt, -0.68 Pd, -0.66 Cu, -0.66 Au, -0.62 Ag eV; "
         "dG_O in the fcc hollow -0.87 Pt to -0.74 Ag eV), where DFT puts OH on Pt(111) near +0.8 to +1.0 eV and "
         "binds it far more weakly on Au (Norskov et al., J. Phys. Chem. B 108, 17886 (2004))",
    "C": "its CO adsorption energies barely depend on the metal (measured here on pure (111) 3x3x4 slabs, CO on "
         "top, positions relaxed: dE_CO -0.36 Pt, -0.31 Pd, -0.32 Cu, -0.27 Au, -0.28 Ag eV), where DFT binds CO "
         "on Pt and Pd by more than 1 eV more strongly than on Ag and Au (Bagger et al., ChemPhysChem 18, 3266 "
         "(2017))",
}


@lru_cache(maxsize=32)
def _maker(mode: str, steps: int, fmax: float, optimizer: str):
    from atomate2.ase.jobs import EmtRelaxMaker

    return EmtRelaxMaker(**maker_options(mode, {"steps": steps, "fmax": fmax, "optimizer": optimizer}))


class EMTCalculator(Calculator):
    """Effective-medium theory (ASE) for Al, Cu, Ag, Au, Ni, Pd, Pt and H, C, N, O adsorbates."""

    name = "emt"
    category = "cheap"
    cell_atoms = (32, 256)  # atoms of automatic bulk cells (min, max): SQS of 32+
    known_limits = EMT_KNOWN_LIMITS
    defaults = {"fmax": 0.02, "steps": 500, "optimizer": "FIRE"}
    run_defaults = {}
    retry = staticmethod(ase_retry)  # a relaxation stopped before its fmax runs again corrected

    def resolve(self, structure: Structure, settings: dict[str, Any], mode: str) -> tuple[dict, dict]:
        """Check ``structure`` and return (physics settings with mode, run settings)."""
        check_structure(structure, EMT_ELEMENTS, self.name)
        physics, run = split_settings(self.name, self.defaults, self.run_defaults, settings)
        return {**physics, "mode": mode}, run

    def resolve_pool(self, elements: list[str], settings: dict[str, Any]) -> dict[str, Any]:
        """Check the pool's elements and the settings; EMT has nothing element-dependent to fix."""
        check_elements(elements, EMT_ELEMENTS, self.name)
        split_settings(self.name, self.defaults, self.run_defaults, settings)
        return settings

    def spin_polarised(self, settings: dict[str, Any]) -> bool:
        """Whether calculations start from given magnetic moments. No spin: EMT has none."""
        return False

    def code_version(self, physics: dict[str, Any], run: dict[str, Any] | None = None) -> str:
        """Return the version of ASE (EMT's parameters live in ASE)."""
        return f"ase-{ase.__version__}"

    def run(self, structure: Structure, physics: dict[str, Any], run: dict[str, Any], directory) -> dict[str, Any]:
        """Relax (or evaluate) ``structure``; return calculation-document fields."""
        maker = _maker(physics["mode"], int(physics["steps"]), float(physics["fmax"]), physics["optimizer"])
        return run_ase_maker(maker, structure, n_cores=1)
