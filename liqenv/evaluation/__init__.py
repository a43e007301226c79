"""The evaluation layer: what a policy is, where providers register, and the harness.

It sits between the environment and the policies (``liqenv`` <- ``liqenv.evaluation``
<- ``baselines``, ``agents`` <- scripts): it imports only ``liqenv``'s core,
NumPy and SciPy, never a policy package, and ``import liqenv`` does not
import it.

* :mod:`~liqenv.evaluation.protocol`: the :class:`Policy` protocol (``act``;
  optional ``reset``, ``act_batch``) and :class:`UnsupportedScenario`;
* :mod:`~liqenv.evaluation.registry`: ``register(name, factory)``,
  ``make(name, env)``, ``available()``, ``register_loader(prefix, loader)``
  for ``prefix=path`` model specs;
* :mod:`~liqenv.evaluation.harness`: :func:`evaluate` (common random
  numbers, worker processes, paired comparisons);
* :mod:`~liqenv.evaluation.metrics`: per-episode metrics as arrays;
* :mod:`~liqenv.evaluation.stats` and :mod:`~liqenv.evaluation.report`:
  confidence intervals, the Markdown table and the JSON schema.

::

    import baselines  # registers the analytic policies
    from liqenv.evaluation import evaluate, format_table

    res = evaluate("liqenv/SingleStore-v0", ["sdp", "pds", "fp"], episodes=1000, seed=0)
    print(format_table(res))
"""

from .harness import evaluate, make_env, parse_overrides
from .metrics import METRICS, EpisodeMetrics
from .protocol import Policy, UnsupportedScenario
from .registry import (PolicyFactory, available, loaders, make, register, register_loader,
                       resolve_policies)
from .report import RESULT_KEYS, format_metrics_table, format_table, to_json_dict, write_csv, write_json
from .stats import ci_halfwidth, paired_comparisons

__all__ = [
    "evaluate", "make_env", "parse_overrides", "EpisodeMetrics", "METRICS", "Policy",
    "UnsupportedScenario", "PolicyFactory", "register", "make", "available", "register_loader",
    "loaders", "resolve_policies", "RESULT_KEYS", "format_table", "format_metrics_table", "to_json_dict", "write_json",
    "write_csv",
    "ci_halfwidth", "paired_comparisons",
]
