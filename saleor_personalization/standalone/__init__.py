"""Standalone mode: the same core with small settings of its own, for demo, evaluation and tests."""
