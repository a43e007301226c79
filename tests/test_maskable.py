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
