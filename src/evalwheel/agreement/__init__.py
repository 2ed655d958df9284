"""Measure graders against human labels: runners per dataset, the `agree` CLI and the trainer."""
