"""alloyscreen.campaign."""
