"""Catalysis from site distributions: site models over simulated surfaces and the activity they give."""
