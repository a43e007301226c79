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


def publish_with_json(lines: list[str], report: dict, md: str | Path) -> None:
    """:func:`publish` the table's ``lines`` to ``md`` and write ``report`` beside it as JSON."""
    import json

    md = Path(md)
    publish("\n".join(lines), md)
    md.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {md} and {md.with_suffix('.json')}")
