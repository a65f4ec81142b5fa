"""The engine: the campaign's Maker tree as jobflow jobs, and where they run (here, FireWorks, jobflow-remote)."""
