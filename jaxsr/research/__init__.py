"""Research over the library: the VDSR paper's experiments, the papers' tables, campaigns, the zoo's measured
scores."""
