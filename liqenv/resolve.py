"""One reading of a scenario argument, for every entry point.

``train.py``, ``evaluate.py``, the benchmark scripts and the Python API take a
scenario as a registered id, with or without the ``liqenv/`` namespace
(``SingleStore-v0``, ``liqenv/SingleStore-v0``), or as a YAML/JSON file
written by :meth:`~liqenv.scenario.Scenario.save` (read with
:func:`~liqenv.scenario.load_scenario`: ``yaml.safe_load`` / ``json``, which
cannot run code).  :func:`canonical_scenario` gives the one spelling that
entry points compare and record (a resumed run, a cached result):
``liqenv/<id>``, or the file's absolute path.  :func:`resolve_scenario`
also builds the scenario, so a bad file or override fails before any work::

    import liqenv

    key, sc = liqenv.resolve_scenario("my_store.yaml", horizon=20)
    env = gym.make("liqenv/File-v0", path="my_store.yaml", horizon=20)  # the same scenario

Every failure is a one-line ``ValueError`` naming the argument or field
(an unknown override keyword: whatever :meth:`Scenario.with_overrides` raises).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym

from .presets import GENERATORS, PRESETS, make_scenario
from .scenario import Scenario, load_scenario

__all__ = ["resolve_scenario", "scenario_and_generator", "canonical_scenario", "registered_ids", "short_name", "make_file_env", "SCENARIO_SUFFIXES"]

SCENARIO_SUFFIXES = (".yaml", ".yml", ".json")
NAMESPACE = "liqenv/"


def registered_ids() -> list[str]:
    """The registered preset ids, ``liqenv/`` included."""
    return [NAMESPACE + name for name in PRESETS]


def _is_file_arg(arg: str) -> bool:
    # a path separator, a scenario suffix, or an existing file: read it as a path
    return arg.endswith(SCENARIO_SUFFIXES) or "/" in arg.removeprefix(NAMESPACE) or "\\" in arg \
        or Path(arg).exists()


def canonical_scenario(arg: Any) -> str:
    """``liqenv/<id>`` for a registered id (namespace optional), or a scenario file's absolute path.

    Checks that the id is registered or that the file exists and is a file;
    its contents are read by :func:`resolve_scenario`.
    """
    if not isinstance(arg, (str, Path)) or not str(arg).strip():
        raise ValueError(f"scenario={arg!r}: expected a registered id ({', '.join(PRESETS)}) "
                         f"or a {'/'.join(SCENARIO_SUFFIXES)} file")
    text = str(arg)
    name = text.removeprefix(NAMESPACE)
    if name in PRESETS:
        return NAMESPACE + name
    if not _is_file_arg(text):
        raise ValueError(f"scenario={text!r}: unknown; registered: {', '.join(PRESETS)} "
                         f"(or a {'/'.join(SCENARIO_SUFFIXES)} scenario file)")
    path = Path(text)
    if not path.exists():
        raise ValueError(f"scenario file {text!r}: not found")
    if path.is_dir():
        raise ValueError(f"scenario file {text!r}: is a directory")
    if path.suffix not in SCENARIO_SUFFIXES:
        raise ValueError(f"scenario file {text!r}: must end in {', '.join(SCENARIO_SUFFIXES)}")
    return str(path.resolve())


def short_name(key: str) -> str:
    """A canonical scenario's name for folders and tables: the id without namespace, or the file's stem."""
    return key.removeprefix(NAMESPACE) if key.startswith(NAMESPACE) else Path(key).stem


def resolve_scenario(arg: Any, **overrides: Any) -> tuple[str, Scenario]:
    """``(canonical_scenario(arg), scenario)`` with ``overrides`` applied.

    For a preset that draws a scenario per episode (``TwoStore-v0``) the
    scenario is the one fixing the env's spaces (its generator's
    ``layout_scenario()``), as in :class:`~liqenv.env.LiquidationEnv`.
    """
    key = canonical_scenario(arg)
    return key, scenario_and_generator(key, None, overrides)[0]


def scenario_and_generator(arg: Any, generator: Any, overrides: dict) -> tuple[Scenario, Any]:
    """``(scenario fixing the spaces, generator or None)``: what an env is built from.

    ``arg`` is a :class:`Scenario`, anything :func:`canonical_scenario`
    reads, or ``None`` (``SingleStore-v0``); presets that draw a scenario per
    reset (``TwoStore-v0``), or an explicit ``generator``, come with it.
    """
    if generator is None and not isinstance(arg, Scenario):
        key = canonical_scenario("SingleStore-v0" if arg is None else arg)
        name = key.removeprefix(NAMESPACE)
        if not key.startswith(NAMESPACE):
            sc = load_scenario(key)
            return (sc.with_overrides(**overrides) if overrides else sc), None
        if name not in GENERATORS:
            return make_scenario(name, **overrides), None
        generator = GENERATORS[name]()
    if generator is None:
        return (arg.with_overrides(**overrides) if overrides else arg), None
    generator = generator.with_overrides(**overrides) if overrides else generator
    return generator.layout_scenario(), generator


def make_file_env(path: str | Path | None = None, **kwargs: Any) -> Any:
    """Entry point of ``gym.make("liqenv/File-v0", path=..., **kwargs)``: a scenario file as an env.

    ``kwargs`` are those of :class:`~liqenv.env.LiquidationEnv` (``render_mode``,
    ``strict``, scenario field overrides).
    """
    from .env import LiquidationEnv

    if path is None:
        raise TypeError("liqenv/File-v0 needs path=<a .yaml/.yml/.json scenario file>")
    key = canonical_scenario(path)
    if key.startswith(NAMESPACE):
        raise ValueError(f"path={str(path)!r}: a registered id; use gym.make({key!r})")
    return LiquidationEnv(key, **kwargs)


if NAMESPACE + "File-v0" not in gym.registry:
    gym.register(id=NAMESPACE + "File-v0", entry_point="liqenv.resolve:make_file_env",
                 disable_env_checker=False)
