"""The tutorials' plain-text sources and their generated notebooks agree.

The sources are jupytext percent-format ``tutorials/*.py``; the ``.ipynb``
beside each is generated (``jupytext --sync tutorials/*.py``) and stored
without outputs.  CI executes the notebooks with nbmake
(``LIQENV_SMOKE=1 python -m pytest --nbmake tutorials/``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="the [course] extra (jupytext, nbmake) is not installed")

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
SOURCES = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))


def cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_there_are_four_tutorials():
    assert len(SOURCES) >= 4, SOURCES
    notebooks = sorted(TUTORIALS.glob("*.ipynb"))
    assert [p.stem for p in notebooks] == [p.stem for p in SOURCES], "every source has its notebook, and no other"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_matches_its_source(source):
    notebook = source.with_suffix(".ipynb")
    from_py = jupytext.read(source)
    from_ipynb = jupytext.read(notebook)
    assert cells(from_ipynb) == cells(from_py), (
        f"{notebook.name} differs from {source.name}: run `jupytext --sync {source.relative_to(TUTORIALS.parent)}`")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(source):
    nb = jupytext.read(source.with_suffix(".ipynb"))
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, source.name


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_starts_with_a_guarded_install(source):
    nb = jupytext.read(source)
    first_code = next(c.source for c in nb.cells if c.cell_type == "code")
    assert "%pip install" in first_code and 'find_spec("liqenv") is None' in first_code, first_code
