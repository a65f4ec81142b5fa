import numpy as np
import pytest
from scipy.stats import norm

from alloyscreen.errors import AlloyscreenError
from alloyscreen.surrogates.acquisition import ACQUISITIONS, Objective, acquisition_scores

MEAN = np.array([1.0, -2.0, 0.5])
STD = np.array([0.1, 1.0, 2.0])
MIN = Objective("mixing_energy", "minimize")
MAX = Objective("activity", "maximize")


def test_greedy_and_ucb_respect_direction():
    np.testing.assert_allclose(acquisition_scores("greedy", MIN, MEAN, STD), [-1.0, 2.0, -0.5])
    np.testing.assert_allclose(acquisition_scores("greedy", MAX, MEAN, STD), MEAN)
    np.testing.assert_allclose(acquisition_scores("ucb", MAX, MEAN, STD, kappa=1.0), [1.1, -1.0, 2.5])
    np.testing.assert_allclose(acquisition_scores("ucb", MIN, MEAN, STD), [-0.8, 4.0, 3.5])
    assert np.argmax(acquisition_scores("greedy", MIN, MEAN, STD)) == 1


def test_expected_improvement_by_hand():
    # minimise; best labelled value 0.0 -> incumbent utility 0.0
    scores = acquisition_scores("ei", MIN, [0.0, -1.0, 1.0], [1.0, 0.0, 0.0], y_labelled=[0.0, 3.0])
    np.testing.assert_allclose(scores, [norm.pdf(0.0), 1.0, 0.0])
    gain = 0.5
    ei = acquisition_scores("ei", MAX, [0.5], [2.0], y_labelled=[0.0])
    z = gain / 2.0
    np.testing.assert_allclose(ei, [gain * norm.cdf(z) + 2.0 * norm.pdf(z)])
    with pytest.raises(AlloyscreenError, match="needs labelled values"):
        acquisition_scores("ei", MIN, MEAN, STD)


def test_target_direction_uses_folded_normal_moments():
    target = Objective("dG_H", "target", target=0.0)
    np.testing.assert_allclose(target.utility([-0.3, 0.1]), [-0.3, -0.1])
    u_mean, u_std = target.utility_moments([0.0, 0.2], [1.0, 0.0])
    np.testing.assert_allclose(u_mean, [-np.sqrt(2 / np.pi), -0.2])
    np.testing.assert_allclose(u_std, [np.sqrt(1 - 2 / np.pi), 0.0], atol=1e-12)
    rng = np.random.default_rng(0)
    draws = np.abs(rng.normal(0.7, 0.5, 400000) - 0.0)
    m, s = target.utility_moments([0.7], [0.5])
    assert m[0] == pytest.approx(-draws.mean(), abs=2e-3) and s[0] == pytest.approx(draws.std(), abs=2e-3)
    greedy = acquisition_scores("greedy", target, [0.5, -0.05, 0.2], [0.0, 0.0, 0.0])
    assert np.argmax(greedy) == 1


def test_thompson_draws_one_member_in_utility_space():
    members = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    scores = acquisition_scores("thompson", MIN, members.mean(0), members.std(0), members=members, rng=4)
    assert any(np.array_equal(scores, -row) for row in members)
    drawn = {tuple(acquisition_scores("thompson", MAX, MEAN, STD, members=members, rng=s)) for s in range(20)}
    assert drawn == {tuple(row) for row in members}
    with pytest.raises(AlloyscreenError, match="per-member predictions"):
        acquisition_scores("thompson", MIN, MEAN, STD)


def test_random_baseline_is_seeded():
    a = acquisition_scores("random", MIN, MEAN, STD, rng=1)
    assert np.array_equal(a, acquisition_scores("random", MIN, MEAN, STD, rng=1))
    assert np.all((a >= 0) & (a < 1)) and a.shape == (3,)


def test_unknown_names_are_clear_errors():
    with pytest.raises(AlloyscreenError, match=r"acquisition function 'pi'; allowed: ei, greedy, random"):
        acquisition_scores("pi", MIN, MEAN, STD)
    assert set(ACQUISITIONS) == {"greedy", "ucb", "ei", "thompson", "random"}
    with pytest.raises(AlloyscreenError, match="unknown objective direction 'lowest'"):
        Objective("e", "lowest")
    with pytest.raises(AlloyscreenError, match="target value is required"):
        Objective("dG_H", "target")
