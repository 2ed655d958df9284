"""Response-level pedagogy graders (MRBench dimensions + MathDial telling), rules and trained tiers."""
