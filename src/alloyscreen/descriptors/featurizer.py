"""The versioned descriptor set of alloyscreen and its file front end.

The feature set ``alloyscreen-hea-v1`` is the HEA parameters of
:mod:`alloyscreen.descriptors.hea` followed by the 132 magpie statistics of
:mod:`alloyscreen.descriptors.magpie`, in the order of ``COLUMNS``. Any change to
a column's name, order, definition or element data bumps the version; every
table and file written carries the name.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alloyscreen.descriptors import hea, magpie
from alloyscreen.descriptors.compositions import Compositions, parse_formula
from alloyscreen.descriptors.elementdata import matminer_version
from alloyscreen.errors import AlloyscreenError

FEATURE_SET = "alloyscreen-hea-v1"
COLUMNS: tuple[str, ...] = hea.COLUMNS + magpie.COLUMNS
ENGINES = ("fused", "numpy")
_BLOCK_ROWS = 2048  # rows per vectorised block: keeps temporaries in cache (fastest measured)
_MAGPIE_PREFIX = "MagpieData "


@dataclass(frozen=True)
class DescriptorTable:
    """Descriptors of ``n`` compositions.

    Attributes
    ----------
    columns : tuple of str
        Column names, a subset of ``COLUMNS`` in its order.
    values : np.ndarray
        (n, len(columns)) float64.
    feature_set : str
        Name and version of the feature set, e.g. ``"alloyscreen-hea-v1"``.
    """

    columns: tuple[str, ...]
    values: np.ndarray
    feature_set: str = FEATURE_SET

    def column(self, name: str) -> np.ndarray:
        """Return one column by name."""
        return self.values[:, self.columns.index(name)]

    def row(self, index: int) -> dict[str, float]:
        """Return one row as ``{column: value}``."""
        return dict(zip(self.columns, self.values[index].tolist(), strict=True))


def check_columns(columns: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Return ``columns`` in feature-set order; an unknown name raises AlloyscreenError."""
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise AlloyscreenError(
            f"unknown descriptor {unknown[0]!r}; allowed: {', '.join(hea.COLUMNS)} or 'MagpieData <stat> <property>'"
        )
    wanted = set(columns)
    return tuple(c for c in COLUMNS if c in wanted)


def featurize(comps: Compositions, columns: list[str] | tuple[str, ...] | None = None,
              known: dict[str, np.ndarray] | None = None, engine: str = "fused") -> DescriptorTable:
    """Compute descriptors of ``comps``.

    Parameters
    ----------
    comps : Compositions
        Compositions to describe.
    columns : list of str, optional
        Only these columns; default: all of ``COLUMNS``.
    known : dict, optional
        Columns computed already for these rows (name -> values): taken as they are.
    engine : {"fused", "numpy"}
        ``"fused"`` (default): the compiled one-pass kernel of :mod:`alloyscreen.descriptors.fused`, which
        computes the HEA part and/or the magpie part whole and keeps the columns asked for; ``"numpy"``: the
        vectorised numpy reference, which computes only what ``columns`` need. Both give the same values (to
        1e-12 relative); the benchmark ``benchmarks/descriptors.py`` times each.

    Returns
    -------
    DescriptorTable
    """
    if engine not in ENGINES:
        raise AlloyscreenError(f"descriptor engine {engine!r}; allowed: {', '.join(ENGINES)}")
    selected = COLUMNS if columns is None else check_columns(columns)
    taken = {name: values for name, values in (known or {}).items() if name in selected}
    wanted = [c for c in selected if c not in taken]
    out = np.empty((len(comps), len(selected)))
    if wanted:
        (_fused_into if engine == "fused" else _numpy_into)(comps, wanted, selected, out)
    for name, values in taken.items():
        out[:, selected.index(name)] = values
    return DescriptorTable(columns=selected, values=out)


def _fused_into(comps: Compositions, wanted: list[str], selected: tuple[str, ...], out: np.ndarray) -> None:
    """Write columns ``wanted`` (a subset of ``selected``, the columns of ``out``) with the compiled kernel."""
    from alloyscreen.descriptors import fused

    want_hea = any(c in hea.COLUMNS for c in wanted)
    want_magpie = any(c.startswith(_MAGPIE_PREFIX) for c in wanted)
    if selected == COLUMNS:
        fused.fill(comps.z, comps.c, out, want_hea, want_magpie)
        return
    index, at = [COLUMNS.index(c) for c in wanted], _positions(wanted, selected)
    buffer = np.empty((min(_BLOCK_ROWS, len(comps)), len(COLUMNS)))
    for start in range(0, len(comps), _BLOCK_ROWS):
        rows = slice(start, min(start + _BLOCK_ROWS, len(comps)))
        part = buffer[:rows.stop - start]
        fused.fill(comps.z[rows], comps.c[rows], part, want_hea, want_magpie)
        out[rows, at] = part[:, index]


def _numpy_into(comps: Compositions, wanted: list[str], selected: tuple[str, ...], out: np.ndarray) -> None:
    """Write columns ``wanted`` (a subset of ``selected``, the columns of ``out``) with the numpy reference."""
    hea_wanted = [c for c in wanted if c in hea.COLUMNS]
    magpie_wanted = [c for c in wanted if c.startswith(_MAGPIE_PREFIX)]
    named = [c.removeprefix(_MAGPIE_PREFIX).split(" ") for c in magpie_wanted]  # [statistic, property]
    statistics = tuple(s for s in magpie.STATISTICS if any(s == stat for stat, _ in named))
    properties = tuple(p for p in magpie.PROPERTIES if any(p == prop for _, prop in named))
    magpie_columns = [f"{_MAGPIE_PREFIX}{s} {p}" for p in properties for s in statistics]
    magpie_index = [magpie_columns.index(c) for c in magpie_wanted]
    hea_at, magpie_at = _positions(hea_wanted, selected), _positions(magpie_wanted, selected)
    for start in range(0, len(comps), _BLOCK_ROWS):
        block = Compositions(z=comps.z[start:start + _BLOCK_ROWS], c=comps.c[start:start + _BLOCK_ROWS])
        rows = slice(start, start + len(block))
        if hea_wanted:
            out[rows, hea_at] = hea.hea_parameters(block, hea_wanted)
        if magpie_index:
            out[rows, magpie_at] = magpie.magpie_statistics(block, properties, statistics)[:, magpie_index]


def _positions(names: list[str], selected: tuple[str, ...]) -> slice | list[int]:
    """Where ``names`` sit among ``selected``: a slice when they are consecutive (the common case)."""
    at = [selected.index(name) for name in names]
    return slice(at[0], at[-1] + 1) if at and at[-1] - at[0] + 1 == len(at) else at


def read_formulas(path: str | os.PathLike) -> list[str]:
    """Return the formulas of a text file, one per line; blank lines and ``#`` comments are skipped."""
    path = Path(path)
    if not path.is_file():
        raise AlloyscreenError(f"formula file {str(path)!r} does not exist; allowed: a text file, one formula a line")
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    formulas = [line for line in lines if line]
    if not formulas:
        raise AlloyscreenError(f"formula file {str(path)!r} holds no formula; allowed: one formula a line")
    return formulas


def featurize_file(path_in: str | os.PathLike, path_out: str | os.PathLike) -> Path:
    """Write descriptors of the formulas in ``path_in`` (one a line) to ``path_out``.

    The format follows the extension of ``path_out``: ``.csv`` or ``.parquet``. Columns:
    ``formula`` (as given), ``feature_set``, then ``COLUMNS``. Parquet files also carry
    ``feature_set`` and the matminer version in their schema metadata. All input is
    checked before anything is written, and the file appears atomically.

    Returns
    -------
    Path
        The file written.
    """
    import pyarrow as pa

    path_out = Path(path_out)
    suffix = path_out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise AlloyscreenError(f"output format {path_out.suffix or path_out.name!r}; allowed: .csv, .parquet")
    formulas = read_formulas(path_in)
    compositions = []
    for number, formula in enumerate(formulas, start=1):
        try:
            compositions.append(parse_formula(formula))
        except AlloyscreenError as error:
            raise AlloyscreenError(f"{path_in}, formula {number} ({formula!r}): {error}") from None
    table = featurize(Compositions.from_dicts(compositions))
    arrays = [pa.array(formulas), pa.array([table.feature_set] * len(formulas))]
    arrays += [pa.array(table.values[:, i]) for i in range(len(table.columns))]
    metadata = {"feature_set": table.feature_set, "matminer_version": matminer_version()}
    data = pa.Table.from_arrays(arrays, names=["formula", "feature_set", *table.columns]).replace_schema_metadata(
        metadata
    )
    path_out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path_out.parent, suffix=suffix)
    os.close(handle)
    try:
        if suffix == ".csv":
            import pyarrow.csv as pcsv

            pcsv.write_csv(data, temporary)
        else:
            import pyarrow.parquet as pq

            pq.write_table(data, temporary)
        os.replace(temporary, path_out)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path_out
