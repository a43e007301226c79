"""Shared output step of the benchmark scripts: print a markdown result and write it
under ``benchmarks/results/`` (``update_readme.py`` copies it into the README)."""

from __future__ import annotations

from pathlib import Path


def publish(text: str, out: str | Path) -> None:
    """Print ``text`` and write it to ``out`` (creating the folder)."""
    print(text)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text if text.endswith("\n") else text + "\n")
