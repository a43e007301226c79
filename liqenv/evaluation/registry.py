"""Where policy providers register what the harness can build, and policy specs resolved.

Two kinds of entries:

* **named policies**: ``register(name, factory)`` with ``factory(env, **options) -> policy``;
  ``make(name, env, **options)`` builds one, ``available()`` lists the names.
  The analytic baselines register here when ``baselines`` is imported.
* **model loaders**: ``register_loader(prefix, loader)`` with
  ``loader(path, env) -> policy`` resolves specs ``prefix=path`` (a saved
  model); ``agents`` registers ``ppo`` and ``maskable_ppo`` when imported.

This module imports no provider: the program that offers a policy imports
the package providing it (``evaluate.py`` imports ``baselines`` and
``agents``), so a provider that fails to import fails there, with its own
error.  The factories that :func:`resolve_policies` returns remember the
module that registered their entry and import it when they run in a fresh
process (a spawned or remote worker) that has not imported it yet.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

__all__ = ["PolicyFactory", "ModelLoader", "register", "make", "available", "register_loader",
           "loaders", "resolve_policies"]

#: ``factory(env) -> policy``; the env is the one the policy will act on.
PolicyFactory = Callable[[Any], Any]
#: ``loader(path, env) -> policy`` for saved models given as ``prefix=path``.
ModelLoader = Callable[[str, Any], Any]


@dataclass(frozen=True)
class _Entry:
    factory: Callable[..., Any]
    module: str | None  # importing it registers the entry (for fresh worker processes)


_NAMED: dict[str, _Entry] = {}
_LOADERS: dict[str, _Entry] = {}


def _add(table: dict[str, _Entry], kind: str, key: str, factory: Callable[..., Any],
         module: str | None) -> None:
    if not callable(factory):
        raise ValueError(f"{kind} {key!r}: factory={factory!r} is not callable")
    entry = _Entry(factory, module if module is not None else getattr(factory, "__module__", None))
    old = table.get(key)
    if old is not None and old.factory != factory:
        raise ValueError(f"{kind} {key!r} registered twice (by {old.module} and {entry.module})")
    table[key] = entry


def register(name: str, factory: Callable[..., Any], *, module: str | None = None) -> None:
    """Make policy ``name`` available as ``factory(env, **options)``.

    ``module`` is the module whose import performs this registration
    (default ``factory.__module__``); a worker process that lacks the entry
    imports it.  Registering a name twice with another factory raises
    ``ValueError``.
    """
    if not isinstance(name, str) or not name or "=" in name or "," in name:
        raise ValueError(f"name={name!r}: must be a non-empty name without '=' or ','")
    _add(_NAMED, "policy", name, factory, module)


def available() -> list[str]:
    """Registered policy names (those of the providers imported so far)."""
    return sorted(_NAMED)


def make(name: str, env: Any, **options: Any) -> Any:
    """Build registered policy ``name`` for ``env`` (``ValueError`` for an unknown name)."""
    if name not in _NAMED:
        raise ValueError(f"policy={name!r}: unknown; available: {_listing(_NAMED, 'baselines')}")
    return _NAMED[name].factory(env, **options)


def register_loader(prefix: str, loader: ModelLoader, *, module: str | None = None) -> None:
    """Resolve policy specs ``prefix=path`` with ``loader(path, env) -> policy``."""
    if not isinstance(prefix, str) or not prefix or "=" in prefix or "," in prefix:
        raise ValueError(f"prefix={prefix!r}: must be a non-empty name without '=' or ','")
    _add(_LOADERS, "model loader", prefix, loader, module)


def loaders() -> list[str]:
    """Prefixes accepted in ``prefix=path`` specs (those of the providers imported so far)."""
    return sorted(_LOADERS)


def _listing(table: dict[str, _Entry], provider: str) -> str:
    if not table:
        return f"none (import the package that provides it, e.g. {provider})"
    return ", ".join(sorted(table))


def _entry(table: dict[str, _Entry], key: str, module: str | None) -> _Entry:
    # In a fresh process (spawn start method, a remote worker) the provider
    # has not run yet: import it; its own ImportError is the honest error.
    if key not in table and module is not None:
        importlib.import_module(module)
    return table[key]


@dataclass(frozen=True)
class NamedFactory:
    """``env -> make(name, env)``; picklable, so it can travel to worker processes."""

    name: str
    module: str | None = None

    def __call__(self, env: Any) -> Any:
        return _entry(_NAMED, self.name, self.module).factory(env)


@dataclass(frozen=True)
class ModelFactory:
    """``env -> loader(path, env)`` for a ``prefix=path`` spec; picklable."""

    prefix: str
    path: str
    module: str | None = None

    def __call__(self, env: Any) -> Any:
        return _entry(_LOADERS, self.prefix, self.module).factory(self.path, env)


def _spec_factory(spec: str, unknown: str) -> tuple[str, PolicyFactory | str]:
    """(label, factory or the reason it is unavailable) for one policy spec."""
    if "=" in spec:
        prefix, path = (p.strip() for p in spec.split("=", 1))
        if prefix not in _LOADERS:
            msg = (f"policy {spec!r}: no model loader registered for {prefix!r} "
                   f"(registered: {_listing(_LOADERS, 'agents')})")
            if unknown == "raise":
                raise ValueError(msg)
            return prefix, msg
        if not path or not (os.path.exists(path) or os.path.exists(path + ".zip")):
            raise ValueError(f"policy {spec!r}: model file {path!r} not found")
        return prefix, ModelFactory(prefix, path, _LOADERS[prefix].module)
    if spec not in _NAMED:
        if unknown == "raise":
            raise ValueError(f"policy={spec!r}: unknown; available: {_listing(_NAMED, 'baselines')}")
        return spec, f"policy {spec!r} is not available"
    return spec, NamedFactory(spec, _NAMED[spec].module)


def resolve_policies(policies: Mapping[str, PolicyFactory | str] | Iterable[str] | str,
                     unknown: str = "raise") -> dict[str, PolicyFactory | str]:
    """Label -> factory for the accepted policy forms.

    ``policies`` is a list of specs (registered names or ``prefix=path``), a
    comma-separated string of them, or a dict mapping labels to specs or
    callables ``factory(env) -> policy``.  With ``unknown="raise"`` an
    unknown name or prefix raises ``ValueError``; with ``unknown="report"``
    its value is a string saying why it is unavailable.
    """
    if unknown not in ("raise", "report"):
        raise ValueError(f"unknown={unknown!r}: must be 'raise' or 'report'")
    if isinstance(policies, str):
        policies = [p for p in policies.split(",") if p.strip()]
    items: list[tuple[str | None, Any]]
    if isinstance(policies, Mapping):
        items = list(policies.items())
    else:
        items = [(None, p) for p in policies]
    if not items:
        raise ValueError("policies: at least one policy is needed")
    out: dict[str, PolicyFactory | str] = {}
    for label, spec in items:
        if callable(spec):
            if label is None:
                raise ValueError(f"policy {spec!r}: a callable needs a label (pass a dict)")
            lab, fac = label, spec
        elif isinstance(spec, str) and spec.strip():
            lab, fac = _spec_factory(spec.strip(), unknown)
            lab = label if label is not None else lab
        else:
            raise ValueError(f"policy {spec!r}: expected a name, 'prefix=path' or a callable")
        if lab in out:
            if label is not None or not isinstance(spec, str):
                raise ValueError(f"policy label {lab!r} given twice")
            lab = spec.strip()
            if lab in out:
                raise ValueError(f"policy {lab!r} given twice")
        out[lab] = fac
    return out
