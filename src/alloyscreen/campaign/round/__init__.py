"""One active-learning round: train the surrogates, score the space, re-rank, choose the batch."""
