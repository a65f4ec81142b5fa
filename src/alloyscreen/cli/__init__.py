"""alloyscreen.cli."""
