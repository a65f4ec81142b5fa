import numpy as np
import pytest


@pytest.fixture
def smooth_data():
    """40 labels of a known smooth function of 6 descriptors (2 informative)."""
    rng = np.random.default_rng(0)
    X = rng.random((40, 6))
    y = 3 * X[:, 0] + np.sin(6 * X[:, 1])
    return X, y
