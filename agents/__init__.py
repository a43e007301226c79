"""PPO agents (Stable-Baselines3, sb3-contrib) for liqenv.

* :mod:`agents.config`: per-scenario hyperparameters (``hyperparams.yaml``) and model construction;
* :mod:`agents.maskable`: MaskablePPO's policy with one padded masked categorical (fast on chains);
* :mod:`agents.wrappers`: the training batch (native or DummyVecEnv) with scaled rewards;
* :mod:`agents.policy`: :class:`~agents.policy.PPOPolicy`, a saved model as a
  ``baselines`` policy;
* :mod:`agents.report`: the figures and report of ``train.py``.

Importing the package registers the ``ppo=`` / ``maskable_ppo=`` model
loaders with the evaluation registry (:mod:`liqenv.evaluation.registry`);
torch and Stable-Baselines3 load only when a model does.
"""

from . import policy  # noqa: F401  (registers the model loaders)
