"""alloyscreen.validation."""
