"""What an operator sees: structured log lines in Powertools' format (:mod:`.log`), the usage
metrics as EMF lines or Cloud Eye custom metrics (:mod:`.metrics`), and text made safe for a
terminal or a line-oriented reader (:mod:`.terminal`)."""
