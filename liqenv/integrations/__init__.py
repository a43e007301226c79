"""Adapters from liqenv to learning frameworks, each needing its framework's extra.

* :mod:`liqenv.integrations.sb3`: Stable-Baselines3 ``VecEnv`` over the native
  batch (``pip install -e ".[sb3]"``).

``import liqenv`` imports none of them; the core (``pip install -e .``) needs
only Gymnasium, NumPy, SciPy, Numba and PyYAML.
"""
