"""Dataset loading and importers (MRBench, MathDial; sessions live in `datasets.sessions`)."""
