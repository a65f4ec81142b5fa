import numpy as np
import pytest

from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.calibration import (
    calibration_report,
    fit_std_scale,
    gaussian_nll,
    interval_coverage,
)
from alloyscreen.surrogates.crossval import cross_validate
from alloyscreen.surrogates.ensemble import EnsembleRegressor


def test_scale_and_coverage_by_hand():
    assert fit_std_scale([2.0, -2.0], [1.0, 1.0]) == pytest.approx(2.0)
    assert fit_std_scale([1.0, 3.0], [1.0, 1.0]) == pytest.approx(np.sqrt(5.0))
    coverage = interval_coverage([0.5, -1.5, 2.5, 0.0], [1.0, 1.0, 1.0, 1.0])
    assert coverage.p68 == 0.5 and coverage.p95 == 0.75
    assert gaussian_nll([0.0], [1.0]) == pytest.approx(0.5 * np.log(2 * np.pi))


def test_recovers_known_underestimate():
    rng = np.random.default_rng(0)
    sigma = rng.uniform(0.1, 1.0, 20000)
    residuals = rng.normal(0.0, 3.0 * sigma)
    report = calibration_report(residuals, sigma)
    assert report.scale == pytest.approx(3.0, rel=0.02)
    assert report.coverage_before.p68 < 0.3
    assert report.coverage_after.p68 == pytest.approx(0.68, abs=0.01)
    assert report.coverage_after.p95 == pytest.approx(0.95, abs=0.01)
    assert report.nll_after < report.nll_before


def test_calibration_moves_coverage_toward_nominal_on_heteroscedastic_problem():
    rng = np.random.default_rng(3)
    X = rng.random((120, 4))
    noise = 0.05 + 0.6 * X[:, 2]
    y = 2 * X[:, 0] + np.sin(5 * X[:, 1]) + noise * rng.normal(size=120)
    metrics = cross_validate(EnsembleRegressor(n_members=5), X, y, n_splits=5)
    cal = metrics.calibration
    assert cal.scale > 1
    for level, nominal in (("p68", 0.68), ("p95", 0.95)):
        before = getattr(cal.coverage_before, level)
        after = getattr(cal.coverage_after, level)
        assert abs(after - nominal) < abs(before - nominal)
    assert cal.nll_after < cal.nll_before


def test_zero_spread_is_an_error():
    with pytest.raises(AlloyscreenError, match="standard deviations are zero"):
        fit_std_scale([1.0, 2.0], [0.0, 0.0])
