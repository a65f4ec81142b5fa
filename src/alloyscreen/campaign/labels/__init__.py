"""The labels: a chosen candidate's structures and label Makers, its outcome, the stored history."""
