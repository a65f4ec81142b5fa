import numpy as np
import pytest
from pymatgen.analysis.cost import CostAnalyzer, CostDBElements
from pymatgen.analysis.hhi import HHIModel

from alloyscreen.descriptors import Compositions, featurize
from alloyscreen.descriptors.properties import composition_properties, untabulated
from alloyscreen.errors import AlloyscreenError

FORMULAS = ["Pt0.2Pd0.3Cu0.5", "AlCuNi", "Fe0.7Cr0.2Ni0.1", "Au", "CoCrFeMnNi"]


def test_cost_and_hhi_equal_pymatgen():
    values = composition_properties(["cost", "hhi_production", "hhi_reserve"], Compositions.from_formulas(FORMULAS))
    analyzer = CostAnalyzer(CostDBElements())
    expected = [[analyzer.get_cost_per_kg(f), *HHIModel().get_hhi(f)] for f in FORMULAS]
    np.testing.assert_allclose(values, expected, rtol=1e-9)


def test_density_of_pure_metals_is_within_three_percent_of_handbook_values():
    handbook = {"Al": 2.70, "Cu": 8.96, "Ni": 8.91, "Au": 19.3, "W": 19.25, "Ti": 4.51}
    values = composition_properties(["density"], Compositions.from_formulas(list(handbook)))[:, 0]
    np.testing.assert_allclose(values, list(handbook.values()), rtol=0.03)
    alloy = composition_properties(["density"], Compositions.from_formulas(["Al0.5Au0.5"]))[0, 0]
    assert 2.70 < alloy < 19.3


def test_descriptor_columns_are_composition_properties_and_unknown_names_fail():
    comps = Compositions.from_formulas(FORMULAS)
    values = composition_properties(["cost", "delta_h_mix"], comps)
    np.testing.assert_allclose(values[:, 1], featurize(comps, ["delta_h_mix"]).column("delta_h_mix"))
    with pytest.raises(AlloyscreenError, match="unknown composition property 'price'; allowed: cost, density"):
        composition_properties(["price"], comps)
    assert untabulated("hhi_production", ["Ni", "Tc", "Xx"]) == ["Tc"]
    assert untabulated("delta_h_mix", ["Tc"]) == []
