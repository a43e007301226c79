"""Graded exercises for liqenv (see exercises/README.md)."""
