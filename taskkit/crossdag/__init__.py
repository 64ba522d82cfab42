"""Operators that act on other DAGs' runs from inside a try (ADR 0008)."""
