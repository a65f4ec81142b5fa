"""The results: status, top candidates, labels, rounds and the report, read from the database."""
