"""featurize_file and the ``featurize`` command: CSV and Parquet, bad input writes nothing."""

from __future__ import annotations

import numpy as np
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from alloyscreen.cli.featurize import featurize as featurize_command
from alloyscreen.descriptors import COLUMNS, FEATURE_SET, Compositions, featurize, featurize_file
from alloyscreen.errors import AlloyscreenError

FORMULAS = ["CoCrFeMnNi", "Pt0.2Pd0.2Fe0.2Co0.2Ni0.2", "# a comment", "", "AlCoCrFeNi2.1", "Cu"]


@pytest.fixture
def formula_file(tmp_path):
    path = tmp_path / "formulas.txt"
    path.write_text("\n".join(FORMULAS) + "\n")
    return path


@pytest.mark.parametrize("suffix, reader", [(".csv", lambda p: pcsv.read_csv(p)), (".parquet", pq.read_table)])
def test_writes_descriptors(formula_file, tmp_path, suffix, reader):
    out = featurize_file(formula_file, tmp_path / f"out{suffix}")
    table = reader(out)
    assert table.column_names == ["formula", "feature_set", *COLUMNS]
    formulas = ["CoCrFeMnNi", "Pt0.2Pd0.2Fe0.2Co0.2Ni0.2", "AlCoCrFeNi2.1", "Cu"]
    assert table.column("formula").to_pylist() == formulas
    assert set(table.column("feature_set").to_pylist()) == {FEATURE_SET}
    expected = featurize(Compositions.from_formulas(formulas))
    written = np.column_stack([table.column(c).to_numpy() for c in COLUMNS])
    np.testing.assert_allclose(written, expected.values, rtol=1e-12)
    if suffix == ".parquet":
        assert table.schema.metadata[b"feature_set"] == FEATURE_SET.encode()


@pytest.mark.parametrize("content, message", [("CoCrFeMnNi\nXx2Fe\n", "formula 2"), ("# nothing\n", "no formula")])
def test_bad_input_writes_nothing(tmp_path, content, message):
    source = tmp_path / "in.txt"
    source.write_text(content)
    with pytest.raises(AlloyscreenError, match=message):
        featurize_file(source, tmp_path / "out.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


def test_unsupported_output_format(formula_file, tmp_path):
    with pytest.raises(AlloyscreenError, match=r"allowed: \.csv, \.parquet"):
        featurize_file(formula_file, tmp_path / "out.xlsx")


def test_command(formula_file, tmp_path):
    out = tmp_path / "d.parquet"
    result = CliRunner().invoke(featurize_command, [str(formula_file), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert FEATURE_SET in result.output
    assert pq.read_table(out).num_rows == 4
    default = CliRunner().invoke(featurize_command, [str(formula_file)])
    assert default.exit_code == 0 and (tmp_path / "formulas.descriptors.csv").exists()


def test_command_bad_formula_fails(tmp_path):
    source = tmp_path / "bad.txt"
    source.write_text("Qq3\n")
    result = CliRunner().invoke(featurize_command, [str(source)])
    assert result.exit_code != 0
    assert isinstance(result.exception, AlloyscreenError) and "Qq3" in str(result.exception)
    assert not (tmp_path / "bad.descriptors.csv").exists()
