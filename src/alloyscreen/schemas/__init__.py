"""alloyscreen.schemas."""
