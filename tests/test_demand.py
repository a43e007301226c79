"""Statistical tests of the samplers against their own distributions, at fixed seeds.

The environment samples demand with :meth:`DemandModel.sample` over a batch
of counter-based keys; policies read :meth:`DemandModel.pmf` and
:meth:`DemandModel.mean`.  Here a big batch of keys (one sample each) is
drawn through the batched sampler and compared with ``mean()`` (within five
standard errors) and with ``pmf()`` by a chi-square goodness-of-fit test
(cells pooled to an expected count of at least 5).  The low-level samplers
of :mod:`liqenv.random` are checked the same way against SciPy.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import liqenv  # noqa: F401
from liqenv import random as lr
from liqenv.demand import make_demand
from liqenv.scenario import ElasticityDemand, MarkdownRules, Scenario, StoreParams, ValuationDemand

N = 100_000
P_MIN = 1e-3


def keys(n: int = N, seed: int = 0) -> np.ndarray:
    """Random 64-bit keys, as the env draws them at reset."""
    return np.random.default_rng(seed).integers(0, 2**63, n, dtype=np.uint64)


def draws_for(t: int, n_stores: int = 1, n: int = N, seed: int = 0) -> lr.Draws:
    return lr.Draws(keys(n, seed), np.full(n, t), n_stores)


def pooled_chisquare(counts: np.ndarray, probs: np.ndarray, min_expected: float = 5.0) -> float:
    """Chi-square p-value of ``counts`` against ``probs``, pooling adjacent small cells."""
    n = counts.sum()
    assert np.isclose(probs.sum(), 1.0, atol=1e-9), probs.sum()
    exp = probs * n
    obs_cells, exp_cells = [], []
    acc_o = acc_e = 0.0
    for o, e in zip(counts, exp):
        acc_o += o
        acc_e += e
        if acc_e >= min_expected:
            obs_cells.append(acc_o)
            exp_cells.append(acc_e)
            acc_o = acc_e = 0.0
    if acc_e > 0 or acc_o > 0:
        if exp_cells:
            obs_cells[-1] += acc_o
            exp_cells[-1] += acc_e
        else:
            obs_cells.append(acc_o)
            exp_cells.append(acc_e)
    obs_cells, exp_cells = np.array(obs_cells), np.array(exp_cells)
    if len(obs_cells) < 2:
        return 1.0 if np.allclose(obs_cells, exp_cells) else 0.0
    return float(stats.chisquare(obs_cells, exp_cells * obs_cells.sum() / exp_cells.sum()).pvalue)


def check_counts(x: np.ndarray, pmf: np.ndarray, mean: float) -> None:
    """Sample ``x`` against a pmf whose last entry is the tail P(X >= n_max), and its mean."""
    n_max = len(pmf) - 1
    x = np.asarray(x).reshape(-1)
    assert x.dtype.kind == "i" and np.all(x >= 0)
    se = max(x.std(), 1e-12) / np.sqrt(len(x))
    assert abs(x.mean() - mean) < 5 * se + 1e-12, (x.mean(), mean, se)
    counts = np.bincount(np.minimum(x, n_max), minlength=n_max + 1)
    p = pooled_chisquare(counts, pmf)
    assert p > P_MIN, p


def _sc(demand, n_stores=1, horizon=10, inventory=100) -> Scenario:
    return Scenario(name="t", horizon=horizon,
                    stores=tuple(StoreParams(name=f"s{i}", inventory=inventory, closable=False)
                                 for i in range(n_stores)),
                    demand=demand, markdowns=MarkdownRules(monotone=False))


# ------------------------------------------------------------------ valuation demand
VALUATION_CASES = {
    "uniform-poisson": (ValuationDemand(arrival_rate=100.0, valuation="uniform", decay=0.99), 3, 0.4),
    "uniform-poisson-late": (ValuationDemand(arrival_rate=100.0, valuation="uniform", decay=0.9), 9, 0.3),
    "exponential-poisson": (ValuationDemand(arrival_rate=30.0, valuation="exponential", decay=0.99), 0, 1.2),
    "exponential-low-rate": (ValuationDemand(arrival_rate=2.0, valuation="exponential", decay=0.95), 4, 0.5),
    "weibull-poisson": (ValuationDemand(arrival_rate=50.0, valuation="weibull", weibull_shape=4.0,
                                        decay=0.99), 5, 0.8),
    "weibull-k07-scaled": (ValuationDemand(arrival_rate=12.0, valuation="weibull", weibull_shape=0.7,
                                           decay=0.97, scale=2.0), 2, 1.5),
    "uniform-arrivals": (ValuationDemand(arrival_rate=20.0, arrival="uniform", arrival_spread=5,
                                         valuation="uniform", decay=0.99), 1, 0.5),
    "uniform-arrivals-wide-weibull": (ValuationDemand(arrival_rate=8.0, arrival="uniform",
                                                      arrival_spread=8, valuation="weibull",
                                                      weibull_shape=2.0, decay=1.0), 0, 0.6),
    "uniform-arrivals-exponential": (ValuationDemand(arrival_rate=40.0, arrival="uniform",
                                                     arrival_spread=10, valuation="exponential",
                                                     decay=0.98), 6, 0.9),
}


@pytest.mark.parametrize("case", sorted(VALUATION_CASES))
def test_valuation_sampler_matches_pmf_and_mean(case):
    demand, t, price = VALUATION_CASES[case]
    model = make_demand(_sc(demand))
    x = model.sample(draws_for(t), np.full(N, t), np.full((N, 1), price), np.full((N, 1), 100),
                     np.ones((N, 1)))
    assert x.shape == (N, 1)
    n_max = int(max(demand.arrival_rate + demand.arrival_spread, 5) * 2) + 10
    pmf = model.pmf(0, t, price, n_max)
    check_counts(x, pmf, float(model.mean(0, t, price)))


def test_valuation_mean_is_the_thinned_rate():
    """``mean = lambda * P(V >= p)`` with ``V = scale * decay**t * X`` (MODEL.md section 3)."""
    for valuation, surv in (("uniform", lambda x: max(1 - x, 0.0)),
                            ("exponential", lambda x: np.exp(-x)),
                            ("weibull", lambda x: np.exp(-(x ** 4.0)))):
        model = make_demand(_sc(ValuationDemand(arrival_rate=100.0, valuation=valuation, decay=0.99,
                                                scale=1.5)))
        for t, p in ((0, 0.3), (4, 0.9), (9, 1.4)):
            assert model.mean(0, t, p) == pytest.approx(100.0 * surv(p / (1.5 * 0.99 ** t)), rel=1e-12)


def test_valuation_per_store_and_per_period_rates():
    """Two stores with their own per-period rates (a weekend pattern) and scales."""
    rates = ((10.0, 10.0, 25.0, 25.0), (4.0, 4.0, 4.0, 60.0))
    demand = ValuationDemand(arrival_rate=rates, valuation="uniform", decay=0.99, scale=(1.0, 2.0))
    model = make_demand(_sc(demand, n_stores=2, horizon=4))
    price = np.array([0.5, 1.1])
    for t in (0, 2, 3):
        x = model.sample(draws_for(t, n_stores=2), np.full(N, t), np.broadcast_to(price, (N, 2)),
                         np.full((N, 2), 100), np.ones((N, 2)))
        for s in range(2):
            pmf = model.pmf(s, t, price[s], 140)
            check_counts(x[:, s], pmf, float(model.mean(s, t, price[s])))
        # two stores draw independently
        assert abs(np.corrcoef(x[:, 0], x[:, 1])[0, 1]) < 0.02


def test_valuation_price_above_every_valuation_sells_nothing():
    model = make_demand(_sc(ValuationDemand(arrival_rate=100.0, valuation="uniform", decay=0.99)))
    x = model.sample(draws_for(2), np.full(N, 2), np.full((N, 1), 1.0), np.full((N, 1), 100),
                     np.ones((N, 1)))
    assert x.max() == 0
    assert model.pmf(0, 2, 1.0, 5)[0] == 1.0


# ------------------------------------------------------------------ elasticity demand
ELASTICITY_CASES = {
    # name: (cv, beta_inv, on_hand, effect, price, t)
    "poisson-cv0": (0.0, 0.0, 100, 1.0, 0.8, 0),
    "cv0-broken-assortment": (0.0, 0.4, 30, 1.0, 0.6, 3),
    "cv0.2-shape25": (0.2, 0.0, 100, 1.0, 0.5, 1),
    "cv0.5-shape4": (0.5, 0.3, 40, 1.3, 0.7, 2),
    "cv1-shape1": (1.0, 0.3, 80, 0.8, 0.9, 4),
    "cv1.5-shape0.44": (1.5, 0.5, 70, 1.0, 0.75, 1),
    "cv1.2-effect-low-stock": (1.2, 1.0, 5, 2.0, 0.4, 6),
}


@pytest.mark.parametrize("case", sorted(ELASTICITY_CASES))
def test_elasticity_sampler_matches_pmf_and_mean(case):
    cv, beta, on_hand, effect, price, t = ELASTICITY_CASES[case]
    demand = ElasticityDemand(base=8.0, elasticity=2.0, lift_start=2.5, lift_end=1.0, lift_decay=0.9,
                              beta_inv=beta, cv=cv)
    model = make_demand(_sc(demand, inventory=100))
    x = model.sample(draws_for(t), np.full(N, t), np.full((N, 1), price), np.full((N, 1), on_hand),
                     np.full((N, 1), effect))
    mu = float(model.mean(0, t, price, on_hand=on_hand, effect=effect))
    lift = 1.0 + 1.5 * 0.9 ** t
    assert mu == pytest.approx(8.0 * lift * price ** -2.0 * (on_hand / 100) ** beta * effect, rel=1e-12)
    pmf = model.pmf(0, t, price, int(mu * (1 + 8 * max(cv, 0.3))) + 20, on_hand=on_hand, effect=effect)
    check_counts(x, pmf, mu)
    # the count's CV is the gamma-Poisson one: var = mu + (cv * mu)**2
    assert x.var() == pytest.approx(mu + (cv * mu) ** 2, rel=0.05)


def test_elasticity_pmf_integrates_the_hidden_effect_prior():
    """``pmf(effect=None)`` matches samples whose store effect is drawn at reset."""
    demand = ElasticityDemand(base=6.0, elasticity=1.5, lift=(1.2, 1.0, 0.8), beta_inv=0.0,
                              store_effect_cv=0.5, cv=0.5)
    model = make_demand(_sc(demand, horizon=3))
    eff = model.draw_effects(lr.Draws(keys(seed=1), np.full(N, (1 << 22) - 1), 1))
    x = model.sample(draws_for(1), np.full(N, 1), np.full((N, 1), 0.8), np.full((N, 1), 100), eff)
    pmf = model.pmf(0, 1, 0.8, 80, effect=None)
    check_counts(x, pmf, float(model.mean(0, 1, 0.8)))


# ------------------------------------------------------------------ low-level samplers
@pytest.mark.parametrize("lam", [0.3, 5.0, 9.99, 10.0, 40.0, 300.0])
def test_poisson_sampler(lam):
    d = draws_for(0, seed=int(lam * 100))
    x = lr.poisson(np.full(d.shape, lam), d)
    n_max = int(lam + 10 * np.sqrt(lam) + 10)
    pmf = np.append(stats.poisson.pmf(np.arange(n_max), lam), stats.poisson.sf(n_max - 1, lam))
    check_counts(x, pmf, lam)
    assert x.var() == pytest.approx(lam, rel=0.03)


def test_poisson_mixed_batch_uses_both_methods_consistently():
    """A batch mixing small (inverse) and large (PTRS) means: each part is exact and
    each element's draw does not depend on the others in the batch."""
    d = draws_for(7, n_stores=2)
    lam = np.tile([3.0, 55.0], (N, 1))
    x = lr.poisson(lam, d)
    for s, l in enumerate((3.0, 55.0)):
        n_max = int(l + 10 * np.sqrt(l) + 10)
        pmf = np.append(stats.poisson.pmf(np.arange(n_max), l), stats.poisson.sf(n_max - 1, l))
        check_counts(x[:, s], pmf, l)
    # the same elements drawn in an all-small or all-large batch give the same numbers
    assert np.array_equal(lr.poisson(np.tile([3.0, 3.0], (N, 1)), d)[:, 0], x[:, 0])
    assert np.array_equal(lr.poisson(np.tile([55.0, 55.0], (N, 1)), d)[:, 1], x[:, 1])


@pytest.mark.parametrize("shape", [0.44, 1.0, 25.0])
def test_gamma_sampler(shape):
    d = draws_for(0, seed=int(shape * 100) + 1)
    x = lr.gamma(np.full(d.shape, shape), d).reshape(-1)
    assert np.all(x > 0) and np.all(np.isfinite(x))
    assert abs(x.mean() - shape) < 5 * np.sqrt(shape / N)
    assert x.var() == pytest.approx(shape, rel=0.05)
    assert stats.kstest(x, stats.gamma(shape).cdf).pvalue > P_MIN
    # chi-square on 50 equiprobable cells
    edges = stats.gamma(shape).ppf(np.linspace(0, 1, 51))
    counts = np.histogram(x, bins=edges)[0]
    assert pooled_chisquare(counts, np.full(50, 1 / 50)) > P_MIN


def test_uniforms_are_uniform_and_keyed():
    d = draws_for(3)
    u = d(lr.Streams.DEMAND, 0)
    assert np.all((u > 0) & (u < 1))
    assert stats.kstest(u, "uniform").pvalue > P_MIN
    # same key and counter, same draw; another stream or draw index, another draw
    assert np.array_equal(u, d(lr.Streams.DEMAND, 0))
    assert abs(np.corrcoef(u, d(lr.Streams.GAMMA, 0))[0, 1]) < 0.02
    assert abs(np.corrcoef(u, d(lr.Streams.DEMAND, 1))[0, 1]) < 0.02
    assert abs(np.corrcoef(u, draws_for(4)(lr.Streams.DEMAND, 0))[0, 1]) < 0.02


def test_randint_and_binomial_small():
    d = draws_for(2)
    k = lr.randint(np.full(d.shape, 3), np.full(d.shape, 9), d).reshape(-1)
    counts = np.bincount(k, minlength=10)
    assert counts[:3].sum() == 0
    assert pooled_chisquare(counts[3:], np.full(7, 1 / 7)) > P_MIN
    b = lr.binomial_small(np.full(d.shape, 12), np.full(d.shape, 0.3), 12, d).reshape(-1)
    pmf = np.append(stats.binom.pmf(np.arange(12), 12, 0.3), stats.binom.pmf(12, 12, 0.3))
    check_counts(b, pmf, 12 * 0.3)


# ------------------------------------------------------------------ hidden store effect
@pytest.mark.parametrize("cv", [0.3, 0.5, 1.0])
def test_store_effect_is_lognormal_with_mean_one_and_the_requested_cv(cv):
    demand = ElasticityDemand(base=5.0, store_effect_cv=cv)
    model = make_demand(_sc(demand))
    u = model.draw_effects(lr.Draws(keys(seed=2), np.full(N, (1 << 22) - 1), 1)).reshape(-1)
    assert np.all(u > 0)
    sd = cv / np.sqrt(N)
    assert abs(u.mean() - 1.0) < 5 * sd * (1 + cv)
    assert u.std() / u.mean() == pytest.approx(cv, rel=0.05 + 0.05 * cv)
    sig2 = np.log1p(cv ** 2)
    assert stats.kstest(np.log(u), stats.norm(-sig2 / 2, np.sqrt(sig2)).cdf).pvalue > P_MIN


def test_no_store_effect_means_one():
    model = make_demand(_sc(ElasticityDemand(base=5.0, store_effect_cv=0.0)))
    u = model.draw_effects(lr.Draws(keys(1000), np.zeros(1000), 1))
    assert np.all(u == 1.0)


def test_store_effect_is_drawn_per_store_and_hidden_from_the_observation():
    env = liqenv.LiquidationEnv("Chain-v1")
    obs0, _ = env.reset(seed=0)
    u0 = env.state.effect[0].copy()
    obs1, _ = env.reset(seed=1)
    u1 = env.state.effect[0].copy()
    assert len(np.unique(u0)) == env.scenario.n_stores  # one effect per store
    assert not np.allclose(u0, u1)
    np.testing.assert_array_equal(obs0, obs1)  # the policy cannot see it at reset


# ------------------------------------------------------------------ env uses the same sampler
@pytest.mark.parametrize("demand", [
    ValuationDemand(arrival_rate=(30.0, 5.0, 60.0), valuation="weibull", weibull_shape=2.0, decay=0.97),
    ValuationDemand(arrival_rate=20.0, arrival="uniform", arrival_spread=4, valuation="uniform"),
    ElasticityDemand(base=(4.0, 9.0, 20.0), beta_inv=0.4, store_effect_cv=0.5, cv=0.8),
], ids=["valuation-poisson", "valuation-uniform-arrivals", "elasticity"])
def test_env_sales_are_the_interface_samples(demand):
    """With stock that never runs out, the env's sales are exactly what
    ``DemandModel.sample`` draws for the episode's key, period, prices,
    on-hand units and hidden effects."""
    sc = Scenario(name="t", horizon=6,
                  stores=tuple(StoreParams(name=f"s{i}", inventory=10**6, closable=False) for i in range(3)),
                  demand=demand, markdowns=MarkdownRules(monotone=False))
    env = liqenv.LiquidationEnv(sc)
    model = make_demand(sc)
    env.reset(seed=42)
    rng = np.random.default_rng(0)
    for t in range(sc.horizon):
        on_hand = env.state.on_hand.copy()
        a = rng.integers(0, len(sc.ladder), 3)
        _, _, _, _, info = env.step(a)
        d = lr.Draws(env.state.key, np.array([t]), 3)
        wanted = model.sample(d, np.array([t]), info["price"][None], on_hand, env.state.effect)
        np.testing.assert_array_equal(info["sold"], wanted[0])
        assert info["sold"].sum() > 0
