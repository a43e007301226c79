"""Policy specs of ``evaluate.py --suite``: your own policy in one flag.

``--policies`` is a comma-separated list of entries ``[label=]spec[|spec...]``:

* ``sdp``: a registered name (:func:`liqenv.evaluation.available`);
* ``mypkg.module:make_policy``: a factory ``make_policy(env) -> policy`` or a
  class ``Policy(env)``, imported from an importable module (``evaluate.py``
  puts the current folder on ``sys.path``); the policy needs ``act(observation)``
  (:mod:`liqenv.evaluation.protocol`);
* ``sb3:path/model.zip``: any Stable-Baselines3 / sb3-contrib model zip, the
  algorithm read from the zip (the loader registered as ``sb3`` by
  ``agents``); a glob (``sb3:runs/ppo/seed*/model.zip``) gives one run per
  file;
* ``prefix=path``: a registered model loader (``ppo=runs/x/model.zip``).

Several runs of one learned method (training seeds) are one entry with a
label, runs separated by ``|``: ``ppo=sb3:runs/s0/model.zip|sb3:runs/s1/model.zip``.
An entry whose part before the first ``=`` is a registered loader prefix
and whose rest has no ``:`` or ``|`` is a ``prefix=path`` spec; otherwise
the part before ``=`` is the label.
"""

from __future__ import annotations

import glob
import importlib
import os
from dataclasses import dataclass
from typing import Any

from .protocol import UnsupportedScenario
from .registry import PolicyFactory, loaders, resolve_policies

__all__ = ["NO_MODEL", "ImportedFactory", "ScenarioTemplate", "bind_scenario", "parse_policy_groups"]


@dataclass(frozen=True)
class ImportedFactory:
    """``env -> obj(env)`` for ``module:attr`` (a factory or a class); picklable."""

    module: str
    attr: str

    def target(self) -> Any:
        try:
            mod = importlib.import_module(self.module)
        except Exception as e:  # noqa: BLE001  (any import failure is the user's input)
            raise ValueError(f"policy {self.module}:{self.attr}: cannot import {self.module!r} "
                             f"({type(e).__name__}: {e})") from None
        obj = getattr(mod, self.attr, None)
        if obj is None or not callable(obj):
            raise ValueError(f"policy {self.module}:{self.attr}: {self.module!r} has no callable "
                             f"{self.attr!r} (a factory taking the env, or a class)")
        return obj

    def __call__(self, env: Any) -> Any:
        return self.target()(env)


#: How the unsupported reason of a scenario without its model starts (the suite table says "no model").
NO_MODEL = "no model"


@dataclass(frozen=True)
class _Missing:
    """A factory for a scenario that has no model: reported unsupported by the harness; picklable."""

    reason: str

    def __call__(self, env: Any) -> Any:
        raise UnsupportedScenario(self.reason)


@dataclass(frozen=True)
class ScenarioTemplate:
    """``sb3:`` path with ``{scenario}``: a model per scenario, chosen by :func:`bind_scenario`."""

    template: str

    def bind(self, scenario_id: str) -> PolicyFactory:
        from ..resolve import short_name

        path = self.template.replace("{scenario}", short_name(scenario_id))
        if not os.path.isfile(path):
            return _Missing(f"{NO_MODEL} {path!r} for this scenario")
        return next(iter(resolve_policies([f"sb3={path}"]).values()))

    def __call__(self, env: Any) -> Any:
        raise ValueError(f"sb3:{self.template}: a per-scenario model needs a suite (bind_scenario)")


def bind_scenario(factory: Any, scenario_id: str) -> Any:
    """The factory to use on ``scenario_id`` (a :class:`ScenarioTemplate` picks its file)."""
    return factory.bind(scenario_id) if isinstance(factory, ScenarioTemplate) else factory


def _one_run(spec: str) -> list[tuple[str, Any]]:
    """(run name, factory or registry spec) for one run spec (several for an sb3 glob)."""
    if spec.startswith("sb3:"):
        path = spec[4:].strip()
        if "{scenario}" in path:
            return [(spec, ScenarioTemplate(path))]
        paths = sorted(glob.glob(path)) if any(c in path for c in "*?[") else [path]
        if not paths:
            raise ValueError(f"policy {spec!r}: no file matches {path!r}")
        for p in paths:
            if not os.path.isfile(p):
                raise ValueError(f"policy {spec!r}: {p!r} is "
                                 f"{'a directory' if os.path.isdir(p) else 'not found'}, not a model zip")
        return [(p, f"sb3={p}") for p in paths]
    if ":" in spec and "=" not in spec:
        module, attr = (s.strip() for s in spec.rsplit(":", 1))
        if not module or not attr.isidentifier():
            raise ValueError(f"policy {spec!r}: expected module:attribute")
        fac = ImportedFactory(module, attr)
        fac.target()  # fail now, one line, if it does not import
        return [(spec, fac)]
    return [(spec, spec)]


def parse_policy_groups(text: str) -> dict[str, list[tuple[str, PolicyFactory]]]:
    """Label -> runs ``[(run name, factory)]`` for a ``--policies`` string (see the module docstring)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"--policies {text!r}: name at least one policy")
    groups: dict[str, list[tuple[str, Any]]] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        label = None
        if "=" in entry:
            left, rest = (s.strip() for s in entry.split("=", 1))
            if not left:
                raise ValueError(f"--policies: entry {entry!r} has an empty label before '='")
            if not (left in loaders() and ":" not in rest and "|" not in rest):
                label, entry = left, rest
        parts = [part.strip() for part in entry.split("|")]
        if len(parts) > 1 and not all(parts):
            raise ValueError(f"--policies: entry {entry!r} has an empty run between '|'"
                             + (f" (label {label!r})" if label else ""))
        runs = [r for part in parts if part for r in _one_run(part)]
        if not runs:
            raise ValueError(f"--policies: entry {entry!r} names no policy")
        label = label or (runs[0][0] if len(runs) == 1 else None)
        if label is None:
            raise ValueError(f"--policies: {entry!r} has several runs; give it a label (name=...)")
        if label in groups:
            raise ValueError(f"--policies: label {label!r} given twice")
        groups[label] = runs
    if not groups:
        raise ValueError(f"--policies {text!r}: name at least one policy")
    # registered names and prefix=path specs become the registry's picklable factories
    out: dict[str, list[tuple[str, PolicyFactory]]] = {}
    for label, runs in groups.items():
        out[label] = [(name, fac if callable(fac) else next(iter(resolve_policies([fac]).values())))
                      for name, fac in runs]
    return out
