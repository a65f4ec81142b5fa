"""Element data tables, read once from matminer's data files into arrays indexed by Z.

matminer is a dependency of alloyscreen, so its shipped tables are read at run
time (not copied): the magpie element tables, the Takeuchi-Inoue binary mixing
enthalpies (``MiedemaLiquidDeltaHf.tsv``), Miedema's parameters (``Miedema.csv``)
and the cohesive energies (``cohesive_energies.json``). Only the data files are
read; matminer's Python modules are not imported, which keeps import time low.
Missing values are imputed exactly as matminer does with its default
``impute_nan=True`` (mean over the tabulated elements), so the descriptors equal
matminer's. ``has_value`` arrays record which values were tabulated.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np

from alloyscreen.errors import AlloyscreenError

N_Z = 119  # index 0 unused; Z = 1..118


@cache
def symbols() -> tuple[str, ...]:
    """Return element symbols indexed by Z (index 0 is an empty string)."""
    from pymatgen.core.periodic_table import Element

    return ("",) + tuple(Element.from_Z(z).symbol for z in range(1, N_Z))


@cache
def symbol_to_z() -> dict[str, int]:
    """Return the map element symbol -> atomic number."""
    return {s: z for z, s in enumerate(symbols()) if s}


def atomic_numbers(elements: list[str] | tuple[str, ...]) -> np.ndarray:
    """Return the atomic numbers of ``elements``; unknown symbols raise AlloyscreenError."""
    table = symbol_to_z()
    unknown = [e for e in elements if e not in table]
    if unknown:
        raise AlloyscreenError(f"unknown element symbol {unknown[0]!r}; allowed: symbols H to Og (e.g. 'Pt')")
    return np.array([table[e] for e in elements], dtype=np.int64)


def _data_dir() -> Path:
    spec = importlib.util.find_spec("matminer")
    if spec is None or not spec.submodule_search_locations:
        raise AlloyscreenError("matminer is not installed; it provides the element data (pip install matminer)")
    return Path(spec.submodule_search_locations[0]) / "utils" / "data_files"


def matminer_version() -> str:
    """Return the version of the matminer package whose data files are read."""
    return metadata.version("matminer")


def _impute(values: np.ndarray) -> np.ndarray:
    """Replace NaN entries (Z >= 1) by the mean of the tabulated ones, as matminer does."""
    out = values.copy()
    out[1:][np.isnan(out[1:])] = np.nanmean(values[1:])
    return out


@cache
def magpie_raw(name: str) -> np.ndarray:
    """Return a magpie table (``name``.table) by Z, NaN where not tabulated."""
    path = _data_dir() / "magpie_elementdata" / f"{name}.table"
    if not path.exists():
        raise AlloyscreenError(f"unknown magpie property {name!r}; allowed: the *.table names of {path.parent}")
    lines = path.read_text().splitlines()
    values = np.full(N_Z, np.nan)
    for z in range(1, N_Z):
        try:
            values[z] = float(lines[z - 1])
        except (ValueError, IndexError):
            continue
    return values


@cache
def magpie(name: str) -> np.ndarray:
    """Return a magpie table by Z with missing values imputed (matminer ``MagpieData``)."""
    return _impute(magpie_raw(name))


@dataclass(frozen=True)
class MiedemaData:
    """Miedema parameters by Z: electronegativity phi* (V), valence electrons, shear modulus (GPa)."""

    electronegativity: np.ndarray
    valence_electrons: np.ndarray
    shear_modulus: np.ndarray
    has_value: np.ndarray


@cache
def miedema() -> MiedemaData:
    """Return Miedema's element parameters (``Miedema.csv``), imputed as matminer does."""
    table = symbol_to_z()
    columns = {"electronegativity": np.full(N_Z, np.nan), "valence_electrons": np.full(N_Z, np.nan),
               "shear_modulus": np.full(N_Z, np.nan)}
    with open(_data_dir() / "Miedema.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            z = table[row["element"]]
            for name, column in columns.items():
                column[z] = float(row[name]) if row[name] else np.nan
    has_value = ~np.isnan(columns["valence_electrons"])
    has_value[0] = False
    return MiedemaData(**{k: _impute(v) for k, v in columns.items()}, has_value=has_value)


@cache
def cohesive_energy() -> np.ndarray:
    """Return cohesive energies by Z (eV/atom, Kittel), imputed as matminer does."""
    data = json.loads((_data_dir() / "cohesive_energies.json").read_text())
    values = np.full(N_Z, np.nan)
    for symbol, value in data.items():
        if symbol in symbol_to_z() and value is not None:
            values[symbol_to_z()[symbol]] = float(value)
    return _impute(values)


@cache
def mixing_enthalpy() -> np.ndarray:
    """Return the Takeuchi-Inoue binary mixing enthalpies ΔH_AB (kJ/mol) as a symmetric (119, 119) array.

    Pairs missing from the table get the mean of the tabulated pairs, as matminer's
    ``MixingEnthalpy(impute_nan=True)`` does. Negative means attractive.
    """
    pairs: dict[tuple[int, int], float] = {}
    table = symbol_to_z()
    with open(_data_dir() / "MiedemaLiquidDeltaHf.tsv") as handle:
        next(handle)
        for line in handle:
            a, b, text = line.split()
            za, zb = sorted((table[a], table[b]), key=lambda z: symbols()[z])
            pairs[(za, zb)] = float(text)
    mean = float(np.nanmean(list(pairs.values())))
    matrix = np.full((N_Z, N_Z), mean)
    for (za, zb), value in pairs.items():
        matrix[za, zb] = matrix[zb, za] = mean if np.isnan(value) else value
    return matrix
