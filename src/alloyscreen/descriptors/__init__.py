"""Composition descriptors, vectorised over candidates: magpie statistics and HEA parameters."""

from alloyscreen.descriptors.compositions import Compositions, parse_formula
from alloyscreen.descriptors.featurizer import (
    COLUMNS,
    FEATURE_SET,
    DescriptorTable,
    featurize,
    featurize_file,
)

__all__ = [
    "COLUMNS", "FEATURE_SET", "Compositions", "DescriptorTable", "featurize", "featurize_file", "parse_formula",
]
