"""PPO agents (Stable-Baselines3, sb3-contrib) for liqenv.

* :mod:`agents.config`: per-scenario hyperparameters (``hyperparams.yaml``) and model construction;
* :mod:`agents.maskable`: MaskablePPO's policy with one padded masked categorical (fast on chains);
* :mod:`agents.factored`: a store-factored MaskablePPO policy (one network shared by the stores,
  any chain size; ``policy: factored`` in ``hyperparams.yaml``, :func:`agents.factored.transfer`);
* :mod:`agents.wrappers`: the training batch (native or DummyVecEnv) with scaled rewards;
* :mod:`agents.policy`: :class:`~agents.policy.PPOPolicy`, a saved model as a
  ``baselines`` policy;
* :mod:`agents.job`: the one training run (:func:`~agents.job.run_training`) of ``train.py``,
  ``benchmarks/ppo_results.py`` and schedulers (an optional ``report`` hook, ``resume_from``);
* :mod:`agents.callbacks`: the validation callback the job trains with;
* :mod:`agents.report`: the figures and report of a run.

Importing the package registers the ``ppo=`` / ``maskable_ppo=`` / ``sb3=`` model
loaders (:mod:`agents.sb3_zip`: any SB3 / sb3-contrib zip) with the evaluation registry (:mod:`liqenv.evaluation.registry`);
torch and Stable-Baselines3 load only when a model does.
"""

from . import policy  # noqa: F401  (registers the model loaders)
from . import sb3_zip  # noqa: F401  (registers the sb3= loader: any SB3 / sb3-contrib zip)
