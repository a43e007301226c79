"""Former home of the evaluation harness, kept as a re-export for old imports.

The harness lives in :mod:`liqenv.evaluation` (below the policies); import
it from there.  Importing this module imports ``baselines`` (registering the
analytic policies) as before; learned-model loaders (``ppo=path``) are
registered by importing ``agents``.
"""

from liqenv.evaluation import (RESULT_KEYS, PolicyFactory, ci_halfwidth, evaluate,  # noqa: F401
                               format_table, make_env, parse_overrides, resolve_policies,
                               to_json_dict, write_json)
from liqenv.evaluation import loaders as model_loaders  # noqa: F401
from liqenv.evaluation import register_loader as register_model_loader  # noqa: F401

__all__ = [
    "PolicyFactory", "evaluate", "format_table", "write_json", "to_json_dict", "ci_halfwidth",
    "register_model_loader", "model_loaders", "resolve_policies", "parse_overrides", "make_env",
]
