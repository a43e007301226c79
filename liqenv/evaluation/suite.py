"""A versioned benchmark suite: fixed scenarios, episodes, seeds, floors and references.

A suite is one YAML file (``liqenv/evaluation/suites/<name>.yaml``; see
``liqenv-bench-v1.yaml``) listing per scenario the registered id, the
episodes and the env seed of the first one, the floor policy (score 0) and
the reference (score 1: the exact optimum, or the best analytic policy,
``reference_kind``).  The floor's and reference's mean profits are measured
by ``benchmarks/suite_references.py`` and stored beside the suite in
``<name>.references.json`` with the commit and command; :func:`load_suite`
refuses references that do not match the suite's entries (an id bumped,
episodes changed), so a stale value is never used.

:func:`run_suite` plays every policy (every run of a learned method) on
every scenario with the harness (:func:`liqenv.evaluation.evaluate`,
common random numbers) and scores it (:mod:`liqenv.evaluation.scores`);
:func:`suite_report` aggregates; :func:`format_suite_markdown`,
:func:`write_suite_json` and :func:`write_suite_csv` write it out.
:meth:`Suite.subset` cuts a suite down (some scenarios, their first
episodes: a classroom or smoke run), :func:`measure_references` measures a
suite's floor and reference in this process, and :func:`score_matrix`
gives one policy's ``(runs, scenarios)`` scores for the functions of
:mod:`~liqenv.evaluation.scores` (a probability of improvement against any
policy, say).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import scores as sc
from .harness import evaluate
from .metrics import METRICS, EpisodeMetrics
from .report import _clean, metric_cells, metric_heading  # one copy of the JSON cleaning and metric columns
from .specs import NO_MODEL, bind_scenario
from .stats import ci_halfwidth

__all__ = ["SuiteScenario", "Suite", "SUITES_DIR", "available_suites", "load_suite", "suite_path",
           "references_path", "reference_entry", "results_path", "measured_row", "results_entry",
           "load_reference_results", "measure_references", "run_suite", "suite_report", "score_matrix",
           "format_suite_markdown", "write_suite_json", "write_suite_csv"]

SUITES_DIR = Path(__file__).resolve().parent / "suites"
REFERENCE_KINDS = ("exact", "best-analytic")
_FIELDS = ("id", "episodes", "seed", "floor", "reference", "reference_kind")


@dataclass(frozen=True)
class SuiteScenario:
    """One scenario of a suite, with its measured floor and reference (``None`` before measuring)."""

    id: str
    episodes: int
    seed: int
    floor: str
    reference: str
    reference_kind: str
    floor_value: float | None = None
    reference_value: float | None = None

    def spec(self) -> dict[str, Any]:
        """The suite file's fields (what a references file must match)."""
        return {k: getattr(self, k) for k in _FIELDS}

    def with_reference(self, row: Mapping[str, Any]) -> "SuiteScenario":
        """This scenario with the floor and reference means of a references-file ``row``."""
        return replace(self, floor_value=float(row["floor_mean"]), reference_value=float(row["reference_mean"]))


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    scenarios: tuple[SuiteScenario, ...]
    references: dict | None = None  # the references file's contents

    def subset(self, episodes: Mapping[str, int | None]) -> "Suite":
        """The scenarios named in ``episodes`` (id -> n), each cut to its first ``n`` episodes.

        For a short run (a class, a smoke test): ids as in the suite, the
        ``liqenv/`` namespace optional; ``None`` keeps all the scenario's
        episodes.  Episode ``i`` keeps its seed, so the subset plays the
        suite's own first episodes.  Floor and reference values stay those
        measured on all of the suite's episodes (the same yardstick; the
        subset's scores are then noisier and not paired with it): to pair
        them, :func:`measure_references` on the subset.  ``ValueError`` for
        an id not in the suite or ``n`` outside ``1..episodes``.
        """
        from ..resolve import canonical_scenario

        if not isinstance(episodes, Mapping) or not episodes:
            raise ValueError(f"episodes={episodes!r}: expected a non-empty mapping scenario id -> episodes")
        by_id = {s.id: s for s in self.scenarios}
        out = []
        for sid, n in episodes.items():
            s = by_id.get(canonical_scenario(sid)) if isinstance(sid, str) else None
            if s is None:
                raise ValueError(f"episodes: scenario {sid!r} is not in suite {self.name!r} "
                                 f"({', '.join(by_id)})")
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= s.episodes):
                raise ValueError(f"episodes[{sid!r}]={n!r}: must be an integer in 1..{s.episodes} "
                                 "(the suite's episodes of that scenario)")
            out.append(s if n is None else replace(s, episodes=n))
        if len({s.id for s in out}) != len(out):
            raise ValueError(f"episodes: a scenario is named twice ({', '.join(map(str, episodes))})")
        return replace(self, name=f"{self.name} (subset)", scenarios=tuple(out))


def available_suites() -> list[str]:
    """Names of the suites shipped in :data:`SUITES_DIR`."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def suite_path(name_or_path: str | Path) -> Path:
    """A shipped suite's file, or a suite YAML file given by path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_file():
            raise ValueError(f"suite file {str(p)!r}: not found")
        return p
    shipped = SUITES_DIR / f"{name_or_path}.yaml"
    if not shipped.is_file():
        raise ValueError(f"suite {str(name_or_path)!r}: unknown; available: {', '.join(available_suites())} "
                         "(or a .yaml suite file)")
    return shipped


def references_path(path: str | Path) -> Path:
    """``<suite>.references.json`` beside the suite file."""
    p = Path(path)
    return p.with_name(p.stem + ".references.json")


def results_path(path: str | Path) -> Path:
    """``<suite>.results.json`` beside the suite file: the floor's and reference's measured rows
    (:func:`results_entry`), which :func:`run_suite` reuses instead of playing them again."""
    p = Path(path)
    return p.with_name(p.stem + ".results.json")


def _parse_entry(i: int, raw: Any) -> SuiteScenario:
    from ..resolve import canonical_scenario

    where = f"scenarios[{i}]"
    if not isinstance(raw, dict) or set(raw) != set(_FIELDS):
        raise ValueError(f"{where}: expected exactly the fields {', '.join(_FIELDS)}, got {raw!r}")
    for k in ("episodes", "seed"):
        v = raw[k]
        if isinstance(v, bool) or not isinstance(v, int) or v < (1 if k == "episodes" else 0):
            raise ValueError(f"{where}.{k}={v!r}: must be a {'positive' if k == 'episodes' else 'non-negative'} integer")
    if raw["reference_kind"] not in REFERENCE_KINDS:
        raise ValueError(f"{where}.reference_kind={raw['reference_kind']!r}: must be one of {REFERENCE_KINDS}")
    for k in ("floor", "reference"):
        if not isinstance(raw[k], str) or not raw[k]:
            raise ValueError(f"{where}.{k}={raw[k]!r}: must be a registered policy name")
    return SuiteScenario(id=canonical_scenario(raw["id"]), episodes=raw["episodes"], seed=raw["seed"],
                         floor=raw["floor"], reference=raw["reference"],
                         reference_kind=raw["reference_kind"])


def load_suite(name_or_path: str | Path, references: bool = True) -> Suite:
    """Read a suite; with ``references`` attach the measured floor and reference values.

    ``ValueError`` for an unknown suite, a malformed entry, missing references
    or references measured for other entries (rerun ``benchmarks/suite_references.py``).
    """
    import yaml

    path = suite_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ValueError(f"suite file {str(path)!r}: not valid YAML ({type(e).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("scenarios"), list) or not data["scenarios"]:
        raise ValueError(f"suite file {str(path)!r}: expected 'name' and a non-empty 'scenarios' list")
    entries = [_parse_entry(i, raw) for i, raw in enumerate(data["scenarios"])]
    ids = [e.id for e in entries]
    if len(set(ids)) != len(ids):
        raise ValueError(f"suite file {str(path)!r}: a scenario is listed twice")
    name = str(data.get("name") or path.stem)
    if not references:
        return Suite(name, path, tuple(entries))
    rpath = references_path(path)
    fix = f"run: python benchmarks/suite_references.py --suite {path}"
    if not rpath.is_file():
        raise ValueError(f"suite {name!r}: no references file {str(rpath)!r}; {fix}")
    refs = json.loads(rpath.read_text())
    by_id = {r["id"]: r for r in refs.get("scenarios", [])}
    out = []
    for e in entries:
        r = by_id.get(e.id)
        if r is None or {k: r.get(k) for k in _FIELDS} != e.spec():
            raise ValueError(f"suite {name!r}: the references of {e.id} are missing or were measured "
                             f"for other settings; {fix}")
        out.append(e.with_reference(r))
    return Suite(name, path, tuple(out), refs)


def reference_entry(s: SuiteScenario, results: dict) -> dict[str, Any]:
    """A references-file row for scenario ``s`` from an evaluation of its floor and reference."""
    row = s.spec()
    for role in ("floor", "reference"):
        r = results["results"][getattr(s, role)]
        if "unsupported" in r:
            raise ValueError(f"{s.id}: the {role} {getattr(s, role)!r} is unsupported: {r['unsupported']}")
        row[f"{role}_mean"], row[f"{role}_ci95"] = r["mean"], r["ci95"]
    # a reference no better than the floor leaves the score undefined: say so now
    try:
        sc.normalised_score(0.0, row["floor_mean"], row["reference_mean"])
    except ValueError as e:
        raise ValueError(f"{s.id}: {e} (the scenario cannot be scored)") from None
    return row


def measured_row(m: EpisodeMetrics) -> dict[str, float]:
    """What a suite row keeps of one policy's episodes: the mean profit, its 95% t half-width
    and the means of the other MODEL.md section 7 metrics."""
    means = m.means()
    return {"profit": means.pop("profit"), "profit_ci95": ci_halfwidth(m.profit), **means}


def results_entry(s: SuiteScenario, results: dict) -> dict[str, Any]:
    """A results-file row for scenario ``s``: its suite fields and, per policy name of the
    evaluation ``results`` (floor and reference), its :func:`measured_row`."""
    return s.spec() | {"policies": {name: measured_row(m) for name, m in results["per_episode"].items()}}


def load_reference_results(suite: Suite) -> dict[tuple[str, str], dict[str, float]]:
    """``(scenario id, policy name) -> measured row`` from the suite's results file, for
    :func:`run_suite`'s ``reuse``.

    Only rows measured by the same run as the suite's references (same commit
    and command) and for the suite's current entries (same id, episodes,
    seed, floor and reference) are returned, so a reused row is exactly what
    playing that policy on those episodes gave; anything else is played
    again.  Empty without a results file or references.
    """
    rpath = results_path(suite.path)
    if suite.references is None or not rpath.is_file():
        return {}
    data = json.loads(rpath.read_text())
    if any(data.get(k) != suite.references.get(k) for k in ("commit", "command")):
        return {}
    by_id = {r["id"]: r for r in data.get("scenarios", [])}
    out = {}
    for s in suite.scenarios:
        r = by_id.get(s.id)
        if r is not None and {k: r.get(k) for k in _FIELDS} == s.spec():
            out.update({(s.id, name): row for name, row in r["policies"].items()})
    return out


def measure_references(suite: Suite, workers: int = 1, progress: bool = False) -> Suite:
    """``suite`` with its floor and reference measured now, on its own episodes and seeds.

    What ``benchmarks/suite_references.py`` stores beside a suite, computed
    in this process (the floor and reference policies must be registered:
    ``import baselines``); ``suite.references`` holds the rows.  On a
    :meth:`Suite.subset` the values are then paired with the policies'
    episodes (common random numbers).  Exact references can be slow: one
    ``exact_dp`` solve per ``TwoStore`` episode.
    """
    rows = [reference_entry(s, evaluate(s.id, [s.floor, s.reference], s.episodes, seed=s.seed,
                                        workers=workers, progress=progress, unknown="report"))
            for s in suite.scenarios]
    return replace(suite, scenarios=tuple(s.with_reference(r) for s, r in zip(suite.scenarios, rows)),
                   references={"suite": suite.name, "command": "measure_references (in this process)",
                               "scenarios": rows})


# ------------------------------------------------------------------ running
def run_suite(suite: Suite, groups: Mapping[str, Sequence[tuple[str, Any]]], workers: int = 1,
              progress: bool = False, vec: str = "auto",
              on_scenario: Callable[[str], None] | None = None,
              reuse: Mapping[tuple[str, str], Mapping[str, float]] | None = None) -> dict:
    """Play every run of every policy group on every scenario; per-run scores.

    ``groups`` maps a label to its runs ``[(run name, factory or spec)]``
    (:func:`liqenv.evaluation.specs.parse_policy_groups`).  ``reuse`` maps
    ``(scenario id, run name)`` to an already measured row
    (:func:`load_reference_results`: the floor and reference, played on the
    same episodes and seeds by ``benchmarks/suite_references.py``); those
    runs are not played again.  Returns
    ``{"suite", "scenarios", "rows"}`` where each row is one (policy, run,
    scenario): mean profit, its t CI, the normalised score and its CI, and
    the MODEL.md section 7 metrics (means), or ``unsupported``.
    """
    reuse = reuse or {}
    unmeasured = [s.id for s in suite.scenarios if s.floor_value is None or s.reference_value is None]
    if unmeasured:
        raise ValueError(f"suite {suite.name!r}: no floor and reference values for {', '.join(unmeasured)}; "
                         "load it with its references (load_suite) or measure them (measure_references)")
    rows = []
    for s in suite.scenarios:
        if on_scenario is not None:
            on_scenario(s.id)
        labels = {f"{lab}#{k}": bind_scenario(fac, s.id) for lab, runs in groups.items()
                  for k, (name, fac) in enumerate(runs) if (s.id, name) not in reuse}
        res = (evaluate(s.id, labels, s.episodes, seed=s.seed, workers=workers, progress=progress,
                        unknown="report", vec=vec) if labels else {"results": {}, "per_episode": {}})
        span = s.reference_value - s.floor_value
        for lab, runs in groups.items():
            for k, (run_name, _) in enumerate(runs):
                key = f"{lab}#{k}"
                row = {"policy": lab, "run": k, "run_spec": run_name, "scenario": s.id}
                if (s.id, run_name) in reuse:
                    measured = dict(reuse[s.id, run_name])
                elif "unsupported" in res["results"][key]:
                    row["unsupported"] = res["results"][key]["unsupported"]
                    rows.append(row)
                    continue
                else:
                    measured = measured_row(res["per_episode"][key])
                row.update(profit=measured["profit"], profit_ci95=measured["profit_ci95"],
                           score=float(sc.normalised_score(measured["profit"], s.floor_value,
                                                           s.reference_value)),
                           score_ci95=measured["profit_ci95"] / span,
                           **{k2: v for k2, v in measured.items() if k2 not in ("profit", "profit_ci95")})
                rows.append(row)
    return {"suite": suite.name, "scenarios": [s.spec() | {"floor_value": s.floor_value,
                                                             "reference_value": s.reference_value}
                                               for s in suite.scenarios], "rows": rows}


def _score_matrix(rows: list[dict], label: str, ids: list[str]) -> np.ndarray | None:
    """(runs, scenarios) scores of ``label``; None unless every run covers every scenario."""
    mine = [r for r in rows if r["policy"] == label]
    runs = sorted({r["run"] for r in mine})
    x = np.full((len(runs), len(ids)), np.nan)
    for r in mine:
        if "score" in r:
            x[runs.index(r["run"]), ids.index(r["scenario"])] = r["score"]
    return x if np.isfinite(x).all() else None


def score_matrix(report: dict, label: str) -> np.ndarray:
    """Policy ``label``'s normalised scores in a :func:`run_suite` result, shape ``(runs, scenarios)``.

    The input of :mod:`liqenv.evaluation.scores`' aggregates, e.g.
    ``scores.probability_of_improvement(score_matrix(r, "mine"), score_matrix(r, "practitioner"))``
    (a single-run policy is a ``(1, scenarios)`` matrix).  ``ValueError``
    for an unknown label or one unsupported on some scenario.
    """
    labels = list(dict.fromkeys(r["policy"] for r in report["rows"]))
    if label not in labels:
        raise ValueError(f"label={label!r}: not in this run ({', '.join(labels)})")
    x = _score_matrix(report["rows"], label, [s["id"] for s in report["scenarios"]])
    if x is None:
        raise ValueError(f"label={label!r}: unsupported on some scenario of the suite, no score matrix")
    return x


def suite_report(run: dict, reps: int = 2000, seed: int = 0, plot: str | Path | None = None) -> dict:
    """Add ``aggregates`` (per policy) and ``improvement`` (per pair of learned methods) to ``run``.

    A policy with several runs is a learned method: its aggregates carry
    stratified-bootstrap 95% intervals; a single-run policy is a reference
    line (points only).  A policy unsupported on some scenario has no
    aggregate (``covered`` says how many scenarios it ran).  ``plot``
    writes the performance profiles.
    """
    ids = [s["id"] for s in run["scenarios"]]
    labels = list(dict.fromkeys(r["policy"] for r in run["rows"]))
    aggs, mats = {}, {}
    for lab in labels:
        x = _score_matrix(run["rows"], lab, ids)
        covered = len({r["scenario"] for r in run["rows"] if r["policy"] == lab and "score" in r})
        runs = len({r["run"] for r in run["rows"] if r["policy"] == lab})
        entry = {"runs": runs, "covered": covered, "learned": runs > 1}
        if x is not None:
            mats[lab] = x
            entry.update(sc.aggregate_with_ci(x, reps=reps, seed=seed))
        aggs[lab] = entry
    learned = [lab for lab in labels if lab in mats and aggs[lab]["learned"]]
    improvement = {f"{a} > {b}": sc.probability_of_improvement(mats[a], mats[b], reps=reps, seed=seed)
                   for i, a in enumerate(learned) for b in learned[i + 1:]}
    if plot is not None and mats:
        sc.plot_performance_profiles({k: mats[k] for k in learned},
                                     plot, lines={k: v for k, v in mats.items() if k not in learned})
    return {**run, "aggregates": aggs, "improvement": improvement}


# ------------------------------------------------------------------ output
def _f(x: Any, spec: str = ".3f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:{spec}}"


def _ci(a: dict) -> str:
    return _f(a["value"]) + ("" if a["lo"] is None else f" [{_f(a['lo'])}, {_f(a['hi'])}]")


def format_suite_markdown(report: dict) -> str:
    """The aggregate table, the probabilities of improvement and the per-scenario scores."""
    lines = [f"Suite `{report['suite']}`: normalised score (profit - floor) / (reference - floor); "
             "1 = reference, 0 = floor. Learned methods (several training seeds) show stratified-bootstrap "
             "95% intervals; single-run policies are reference lines.", "",
             "| policy | runs | mean | median | IQM | optimality gap |", "|---|---:|---|---|---|---|"]
    for lab, a in report["aggregates"].items():
        if "mean" not in a:
            lines.append(f"| {lab} | {a['runs']} | runs on {a['covered']} of {len(report['scenarios'])} "
                         "scenarios: no aggregate |  |  |  |")
            continue
        lines.append(f"| {lab} | {a['runs']} | {_ci(a['mean'])} | {_ci(a['median'])} | {_ci(a['iqm'])} "
                     f"| {_ci(a['optimality_gap'])} |")
    if report["improvement"]:
        lines += ["", "| probability of improvement | P(X > Y) [95% CI] |", "|---|---|"]
        lines += [f"| {k} | {_ci(v)} |" for k, v in report["improvement"].items()]
    labels = list(report["aggregates"])
    lines += ["", "Per scenario: mean normalised score over runs (mean profit); floor and reference from "
              "the suite's references file.", "",
              "| scenario | floor | reference | " + " | ".join(labels) + " |",
              "|---|---|---|" + "---|" * len(labels)]
    for s in report["scenarios"]:
        cells = []
        for lab in labels:
            rs = [r for r in report["rows"] if r["policy"] == lab and r["scenario"] == s["id"]]
            ok = [r for r in rs if "score" in r]
            if not ok:
                no_model = all(r["unsupported"].startswith(NO_MODEL) for r in rs)
                cells.append("no model" if no_model else "unsupported")
                continue
            part = "" if len(ok) == len(rs) else f"; {len(ok)} of {len(rs)} runs"
            cells.append(f"{np.mean([r['score'] for r in ok]):.3f} "
                         f"({np.mean([r['profit'] for r in ok]):,.2f}{part})")
        kind = "" if s["reference_kind"] == "exact" else ", best analytic"
        lines.append(f"| {s['id'].removeprefix('liqenv/')} | {s['floor']} {s['floor_value']:,.2f} "
                     f"| {s['reference']} {s['reference_value']:,.2f}{kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", *_metrics_section(report)])


def _metrics_section(report: dict) -> list[str]:
    """A folded table of the MODEL.md section 7 metrics per scenario and policy (means over
    episodes, then over runs; each run's values and CIs are in the JSON and CSV)."""
    lines = ["<details><summary>MODEL.md section 7 metrics per scenario and policy (means over episodes "
             "and runs)</summary>", "", *metric_heading("scenario", "policy")]
    for s in report["scenarios"]:
        for lab in report["aggregates"]:
            ok = [r for r in report["rows"] if r["policy"] == lab and r["scenario"] == s["id"] and "score" in r]
            if ok:
                means = {k: float(np.mean([r[k] for r in ok])) for k in METRICS}
                lines.append(f"| {s['id'].removeprefix('liqenv/')} | {lab} | {metric_cells(means)} |")
    return lines + ["", "</details>"]


def write_suite_json(report: dict, path: str | Path) -> None:
    """The whole report (scenarios, per-run rows, aggregates, improvements) as JSON."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(_clean(report), indent=2, allow_nan=False) + "\n")


CSV_COLUMNS = ("policy", "run", "run_spec", "scenario", "profit", "profit_ci95", "score", "score_ci95",
               "revenue", "operating_cost", "holding_cost", "transfer_cost", "salvage_value", "units_sold",
               "units_salvaged", "sell_through", "net_recovery_on_cost", "unsupported")


def write_suite_csv(report: dict, path: str | Path) -> None:
    """One row per (policy, run, scenario), then one ``scenario=ALL`` row per aggregated policy."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS + ("aggregate", "value", "lo", "hi"))
        for r in report["rows"]:
            w.writerow([_clean(r.get(c)) for c in CSV_COLUMNS] + ["", "", "", ""])
        for lab, a in report["aggregates"].items():
            for name in sc.AGGREGATES:
                if name in a:
                    w.writerow([lab, "", "", "ALL"] + [""] * (len(CSV_COLUMNS) - 4)
                               + [name, a[name]["value"], a[name]["lo"], a[name]["hi"]])
