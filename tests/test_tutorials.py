"""The tutorials' plain-text sources and their generated notebooks agree.

The sources are jupytext percent-format ``tutorials/*.py``; the ``.ipynb``
beside each is generated (``jupytext --sync tutorials/*.py``) and stored
without outputs.  CI executes the notebooks with nbmake
(``LIQENV_SMOKE=1 python -m pytest --nbmake tutorials/``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="the [course] extra (jupytext, nbmake) is not installed")

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
SOURCES = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))


def cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_there_are_five_tutorials():
    assert [p.stem[:3] for p in SOURCES] == ["01_", "02_", "03_", "04_", "05_"], SOURCES
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


#: The line holding the repository URL (a placeholder until there is a public repository; the
#: README says how an instructor points it at a course's copy): one line, the same in every notebook.
REPO_LINE = re.compile(r'^LIQENV_REPO = "(git\+https://\S+)"$', re.MULTILINE)


def install_cell(source: Path) -> str:
    return next(c.source for c in jupytext.read(source).cells if c.cell_type == "code")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_starts_with_a_guarded_install(source):
    first_code = install_cell(source)
    assert "%pip install" in first_code and 'find_spec("liqenv") is None' in first_code, first_code
    # the URL lives in one constant an instructor edits, and the install reads it
    assert first_code.count("git+https://") == 1 and REPO_LINE.search(first_code), first_code
    assert "@ {LIQENV_REPO}" in first_code, first_code


def test_install_cell_is_the_same_in_every_notebook():
    cells = {source.name: install_cell(source) for source in SOURCES}
    assert len(set(cells.values())) == 1, cells


def test_install_cell_installs_from_the_constant(monkeypatch):
    """Run the install cell in IPython as on a service without liqenv: pip gets LIQENV_REPO's URL."""
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    import importlib.util

    code = install_cell(SOURCES[0])
    ip = interactiveshell.InteractiveShell.instance()
    # the real %pip expands {variables} in its line (not marked no_var_expand)
    assert not getattr(ip.find_line_magic("pip"), "_ipython_no_var_expand", False)
    calls = []
    ip.register_magic_function(calls.append, magic_kind="line", magic_name="pip")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "liqenv" else real(name, *a))
    try:
        result = ip.run_cell(code)
    finally:
        del ip.magics_manager.magics["line"]["pip"]
        interactiveshell.InteractiveShell.clear_instance()
    assert result.success, result.error_in_exec
    assert calls == [f'install -q "liqenv[course] @ {REPO_LINE.search(code).group(1)}"'], calls
