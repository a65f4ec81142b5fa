"""alloyscreen.db."""
