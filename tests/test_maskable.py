"""The padded masked MultiCategorical equals sb3-contrib's per-dimension one."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from sb3_contrib.common.maskable.distributions import MaskableMultiCategoricalDistribution

from agents.maskable import PaddedMaskableMultiCategorical


@pytest.mark.parametrize("use_masks", [True, False])
def test_padded_distribution_matches_sb3_contrib(use_masks):
    rng = np.random.default_rng(0)
    dims = [20, 3, 20, 2, 11, 2, 1]
    B = 64
    logits = th.as_tensor(rng.normal(size=(B, sum(dims))) * 3, dtype=th.float32)
    masks = rng.random((B, sum(dims))) < 0.6
    # every dimension keeps at least one allowed choice, as the env's masks do
    start = np.cumsum([0] + dims[:-1])
    for s, n in zip(start, dims):
        masks[np.arange(B), s + rng.integers(n, size=B)] = True
    actions = np.stack([rng.choice(np.flatnonzero(m[s:s + n])) for m in masks
                        for s, n in zip(start, dims)]).reshape(B, len(dims))
    actions = th.as_tensor(actions)
    ref, new = MaskableMultiCategoricalDistribution(dims), PaddedMaskableMultiCategorical(dims)
    for d in (ref, new):
        d.proba_distribution(logits)
        d.apply_masking(masks if use_masks else None)
    th.testing.assert_close(new.log_prob(actions), ref.log_prob(actions), rtol=1e-5, atol=1e-4)
    th.testing.assert_close(new.entropy(), ref.entropy(), rtol=1e-5, atol=1e-4)
    assert th.equal(new.mode(), ref.mode())
    th.manual_seed(0)
    sample = new.sample()
    assert sample.shape == (B, len(dims))
    assert (sample < th.as_tensor(dims)).all()
    if use_masks:  # samples only allowed choices
        flat = sample + th.as_tensor(start)
        assert masks[np.arange(B)[:, None], flat.numpy()].all()


def test_padded_distribution_gradients_match():
    rng = np.random.default_rng(1)
    dims = [5, 2, 7]
    x = rng.normal(size=(8, sum(dims)))
    masks = rng.random((8, sum(dims))) < 0.7
    masks[:, [0, 5, 7]] = True
    a = th.as_tensor([[0, 0, 0]] * 8)
    grads = []
    for cls in (MaskableMultiCategoricalDistribution, PaddedMaskableMultiCategorical):
        logits = th.tensor(x, dtype=th.float32, requires_grad=True)
        d = cls(dims).proba_distribution(logits)
        d.apply_masking(masks)
        (d.log_prob(a).sum() + d.entropy().sum()).backward()
        grads.append(logits.grad)
    th.testing.assert_close(grads[1], grads[0], rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("sid", ["liqenv/TransferChain-v1", "liqenv/TwoStore-v1"])
def test_initial_act_prob_makes_closing_and_shipping_rare(sid):
    """With ``initial_act_prob`` the untrained policy closes a store, or ships
    on a pair, with that probability per period; markdowns stay uniform."""
    import gymnasium as gym

    import liqenv  # noqa: F401
    from agents.config import build_model, load_hyperparams
    from agents.wrappers import make_training_env
    from liqenv.spaces import ActionLayout

    p = 0.02
    env = gym.make(sid).unwrapped
    layout = ActionLayout(env.scenario)
    venv = make_training_env(sid, 2, 0, 1.0, {}, "native")
    hp = load_hyperparams(sid, {"algo": "maskable-ppo", "initial_act_prob": p, "n_envs": 2, "batch_size": 64})
    model = build_model(hp, venv, seed=0, scenario=env.scenario)
    obs = th.as_tensor(venv.reset()[:1])
    with th.no_grad():
        dist = model.policy.get_distribution(obs)
    probs = dist.logp.exp()[0].numpy()  # (components, padded choices)
    rare = probs[layout.n_price:]
    assert rare.shape[0] == layout.n_close + layout.n_ship > 0
    np.testing.assert_allclose(1.0 - rare[:, 0], p, rtol=0.15)  # weights add ~1% noise to the logits
    price = probs[:layout.n_price, :layout.L]
    np.testing.assert_allclose(price, 1.0 / layout.L, rtol=0.15)
    # a policy built without it is uniform: closing every store with probability 1/2
    plain_hp = load_hyperparams(sid, {"algo": "maskable-ppo", "n_envs": 2, "batch_size": 64,
                                      "initial_act_prob": None})
    plain = build_model(plain_hp, venv, seed=0)
    with th.no_grad():
        probs0 = plain.policy.get_distribution(obs).logp.exp()[0].numpy()
    close = probs0[layout.n_price:layout.n_price + layout.n_close, :2]
    np.testing.assert_allclose(close, 0.5, rtol=0.15)
    # the scenario defaults to the vec env's own
    derived = build_model(hp, venv, seed=0)
    # (every weight: the chains' factored policy keeps the bias in its heads, not in action_net)
    for (name, w), w2 in zip(model.policy.state_dict().items(), derived.policy.state_dict().values()):
        assert th.equal(w, w2), name
