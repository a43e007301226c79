"""PPO agents (Stable-Baselines3, sb3-contrib) for liqenv.

* :mod:`agents.config`: per-scenario hyperparameters (``hyperparams.yaml``) and model construction;
* :mod:`agents.maskable`: MaskablePPO's policy with one padded masked categorical (fast on chains);
* :mod:`agents.factored`: a store-factored MaskablePPO policy (one network shared by the stores,
  any chain size; ``policy: factored`` in ``hyperparams.yaml``, :func:`agents.factored.transfer`);
* :mod:`agents.wrappers`: the training batch (native or DummyVecEnv) with scaled rewards;
* :mod:`agents.policy`: :class:`~agents.policy.PPOPolicy`, a saved model as a
  ``baselines`` policy (registers the ``ppo=`` / ``maskable_ppo=`` loaders of ``evaluate.py``);
* :mod:`agents.report`: the figures and report of ``train.py``.
"""
