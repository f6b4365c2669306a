"""Helpers the test modules import: shared data and comparisons (common), the planted students, fuzz strategies, crafted zips."""
