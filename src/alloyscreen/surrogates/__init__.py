"""alloyscreen.surrogates."""
