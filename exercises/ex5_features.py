"""Exercise 5: observation features for PPO.

PPO (Stable-Baselines3) learns to price the store of
:data:`exercises.common.EX5_INSTANCE` (30 units, 6 periods, 12 customers a
period whose valuations lose 20% a period), but it sees only what your
:func:`features` returns: ``N_FEATURES`` floats computed from the decoded
observation (``env.unwrapped.decode_observation``: ``on_hand``,
``markdown``, ``last_sold`` as one-element arrays, ``t``, ``remaining``).
Training is short (:data:`exercises.common.EX5_STEPS` env steps,
:func:`exercises.common.train_ppo_on_features`), so what you show it matters.

Score to beat: the trained policy (deterministic) must earn at least the
midpoint between the best single markdown held all event (exact value
8.74) and the optimum (``sdp``, 10.40), i.e. 9.57, on the hidden evaluation
episodes.  A policy that sees nothing useful (constant features) posts one
markdown all event and cannot reach it.

Check: ``python -m pytest exercises/checks/test_ex5_features.py`` (under a minute).
"""

from __future__ import annotations

import numpy as np

N_FEATURES = 2


def features(obs: dict) -> np.ndarray:
    """``N_FEATURES`` floats for PPO from the decoded observation ``obs``."""
    raise NotImplementedError("exercise 5: features")
