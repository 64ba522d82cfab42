"""Scheduling: pure decisions (readiness, selection, transitions) and the loop that applies them."""
