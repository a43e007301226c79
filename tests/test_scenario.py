"""Scenario validation, YAML/JSON round trips and overrides."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import yaml

import liqenv
from liqenv.presets import chain, single_store, transfer_chain, two_store
from liqenv.scenario import (ElasticityDemand, LeaseTerms, MarkdownRules, Scenario, StoreParams,
                             TransferNetwork, ValuationDemand, load_scenario)

from helpers import rules_scenario, tiny, tiny_network


def one_store(**kw) -> Scenario:
    base = dict(name="x", horizon=5, stores=(StoreParams(inventory=3),))
    base.update(kw)
    return Scenario(**base)


# (label, constructor, field named in the message)
INVALID = [
    ("negative inventory", lambda: StoreParams(inventory=-1), "inventory=-1"),
    ("boolean inventory", lambda: StoreParams(inventory=True), "inventory=True"),
    ("fractional inventory", lambda: StoreParams(inventory=2.5), "inventory=2.5"),
    ("zero list price", lambda: StoreParams(inventory=1, list_price=0.0), "list_price=0.0"),
    ("nan list price", lambda: StoreParams(inventory=1, list_price=float("nan")), "list_price=nan"),
    ("salvage rate above 1", lambda: StoreParams(inventory=1, salvage_rate=1.5), "salvage_rate=1.5"),
    ("negative operating cost", lambda: StoreParams(inventory=1, operating_cost=-1.0), "operating_cost"),
    ("decay zero", lambda: ValuationDemand(decay=0.0), "decay=0.0"),
    ("decay above 1", lambda: ValuationDemand(decay=1.2), "decay=1.2"),
    ("negative decay", lambda: ValuationDemand(decay=-0.5), "decay=-0.5"),
    ("unknown valuation", lambda: ValuationDemand(valuation="lognormal"), "valuation='lognormal'"),
    ("unknown arrivals", lambda: ValuationDemand(arrival="batch"), "arrival='batch'"),
    ("spread with poisson", lambda: ValuationDemand(arrival_spread=2), "arrival_spread=2"),
    ("negative rate", lambda: ValuationDemand(arrival_rate=-1.0), "arrival_rate=-1.0"),
    ("weibull shape 0", lambda: ValuationDemand(weibull_shape=0.0), "weibull_shape=0.0"),
    ("negative cv", lambda: ElasticityDemand(cv=-0.1), "cv=-0.1"),
    ("negative effect cv", lambda: ElasticityDemand(store_effect_cv=-0.1), "store_effect_cv=-0.1"),
    ("negative elasticity", lambda: ElasticityDemand(elasticity=-2.0), "elasticity=-2.0"),
    ("negative beta", lambda: ElasticityDemand(beta_inv=-0.3), "beta_inv=-0.3"),
    ("lift decay above 1", lambda: ElasticityDemand(lift_decay=1.5), "lift_decay=1.5"),
    ("ladder not increasing", lambda: MarkdownRules(ladder=(0.0, 0.2, 0.1)), "ladder="),
    ("ladder with repeats", lambda: MarkdownRules(ladder=(0.0, 0.2, 0.2)), "ladder="),
    ("ladder reaching 100%", lambda: MarkdownRules(ladder=(0.0, 1.0)), "ladder[1]=1.0"),
    ("empty ladder", lambda: MarkdownRules(ladder=()), "ladder=()"),
    ("initial max below min", lambda: MarkdownRules(initial_min=0.5, initial_max=0.3), "initial_max=0.3"),
    ("no ladder level in initial range",
     lambda: MarkdownRules(ladder=(0.0, 0.5), initial_min=0.1, initial_max=0.3), "initial_min"),
    ("step max below min", lambda: MarkdownRules(step_min=0.5, step_max=0.3), "step_max=0.3"),
    ("min hold 0", lambda: MarkdownRules(min_hold=0), "min_hold=0"),
    ("negative max changes", lambda: MarkdownRules(max_changes=-1), "max_changes=-1"),
    ("non-boolean monotone", lambda: MarkdownRules(monotone="yes"), "monotone='yes'"),
    ("notice negative", lambda: LeaseTerms(notice=-1), "notice=-1"),
    ("earliest close negative", lambda: LeaseTerms(earliest_close=-2), "earliest_close=-2"),
    ("lock period alone", lambda: LeaseTerms(lock_period=3), "lock_period=3"),
    ("lock until before lock period", lambda: LeaseTerms(lock_period=3, lock_until=2), "lock_until=2"),
    ("rent fraction above 1", lambda: LeaseTerms(rent_fraction=1.5), "rent_fraction=1.5"),
    ("lead-time matrix wrong shape",
     lambda: TransferNetwork(lead_time=[[0, 1], [1]], unit_cost=[[0, 0], [0, 0]],
                             allowed=[[False, True], [True, False]]), "lead_time="),
    ("cost matrix wrong shape",
     lambda: TransferNetwork(lead_time=[[0, 1], [1, 0]], unit_cost=[[0] * 3] * 3,
                             allowed=[[False, True], [True, False]]), "unit_cost="),
    ("negative lead time", lambda: TransferNetwork.uniform(2, lead_time=-1, unit_cost=0.1), "lead_time[0][0]=-1"),
    ("negative transfer cost", lambda: TransferNetwork.uniform(2, lead_time=1, unit_cost=-0.1), "unit_cost[0][0]=-0.1"),
    ("self shipment", lambda: TransferNetwork.uniform(2, 1, 0.1, allowed=[[True, True], [True, False]]),
     "allowed[0][0]=True"),
    ("quantities not starting at 0", lambda: TransferNetwork.uniform(2, 1, 0.1, quantities=(0.1, 0.5)),
     "quantities="),
    ("quantities above 1", lambda: TransferNetwork.uniform(2, 1, 0.1, quantities=(0.0, 1.5)),
     "quantities[1]=1.5"),
    ("network for the wrong number of stores",
     lambda: one_store(transfers=TransferNetwork.uniform(2, 1, 0.1)), "transfers.lead_time="),
    ("lease date past the horizon",
     lambda: one_store(stores=(StoreParams(inventory=1, lease=LeaseTerms(lock_period=2, lock_until=5)),)),
     "stores[0].lease.lock_until=5"),
    ("earliest close past the horizon",
     lambda: one_store(stores=(StoreParams(inventory=1, lease=LeaseTerms(earliest_close=6)),)),
     "stores[0].lease.earliest_close=6"),
    ("operating cost per period wrong length",
     lambda: one_store(stores=(StoreParams(inventory=3, operating_cost=(1.0, 2.0)),)),
     "stores[0].operating_cost="),
    ("lift wrong length", lambda: one_store(demand=ElasticityDemand(lift=(1.0,))), "lift=(1.0,)"),
    ("arrival rate wrong length", lambda: one_store(demand=ValuationDemand(arrival_rate=(1.0, 2.0))),
     "arrival_rate="),
    ("uniform arrivals spread above rate",
     lambda: one_store(demand=ValuationDemand(arrival_rate=3.0, arrival="uniform", arrival_spread=5)),
     "arrival_spread=5"),
    ("uniform arrivals fractional rate",
     lambda: one_store(demand=ValuationDemand(arrival_rate=3.5, arrival="uniform")), "arrival_rate=3.5"),
    ("no units", lambda: one_store(stores=(StoreParams(inventory=0),)), "inventory="),
    ("only a DC", lambda: one_store(stores=(StoreParams(inventory=3, is_dc=True),)), "is_dc=True"),
    ("horizon 0", lambda: one_store(horizon=0), "horizon=0"),
    ("unit cost 0", lambda: one_store(unit_cost=0.0), "unit_cost=0.0"),
    ("negative holding cost", lambda: one_store(holding_cost=-1.0), "holding_cost=-1.0"),
    ("unknown pricing", lambda: one_store(pricing="auction"), "pricing='auction'"),
    ("continuous pricing for a chain",
     lambda: one_store(stores=(StoreParams(inventory=1), StoreParams(inventory=1)), pricing="continuous"),
     "pricing='continuous'"),
    ("unknown period unit", lambda: one_store(period_unit="month"), "period_unit='month'"),
    ("no stores", lambda: one_store(stores=()), "stores=()"),
    ("max price 0", lambda: one_store(max_price=0.0), "max_price=0.0"),
    ("unknown demand kind",
     lambda: Scenario.from_dict({"name": "x", "horizon": 3, "stores": [{"inventory": 1}],
                                 "demand": {"kind": "magic"}}), "demand.kind='magic'"),
    ("unknown scenario key",
     lambda: Scenario.from_dict({"name": "x", "horizon": 3, "stores": [{"inventory": 1}], "colour": 3}),
     "colour=3"),
    ("unknown store key",
     lambda: Scenario.from_dict({"name": "x", "horizon": 3, "stores": [{"inventory": 1, "colour": 2}]}),
     "colour"),
    ("unknown preset", lambda: liqenv.make_scenario("Nope-v0"), "scenario='Nope-v0'"),
    ("bad grid value", lambda: liqenv.TwoStoreGrid(fixed={"cv": -1}), "fixed.cv=-1"),
]


@pytest.mark.parametrize("label,make,field", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_input_raises_value_error_naming_the_field(label, make, field):
    with pytest.raises(ValueError, match=re.escape(field)):
        make()


def test_unknown_grid_field_raises_type_error_naming_it():
    with pytest.raises(TypeError, match=re.escape("fixed.colour=1")):
        liqenv.TwoStoreGrid(fixed={"colour": 1})


def test_validation_is_not_an_assert():
    """Errors are ValueError (asserts would vanish under ``python -O``)."""
    with pytest.raises(ValueError) as e:
        StoreParams(inventory=-1)
    assert type(e.value) is ValueError


# ------------------------------------------------------------------ round trips
def _custom() -> Scenario:
    """A scenario using most optional fields (per-period costs, lift, locks, fixed costs)."""
    return Scenario(
        name="custom", horizon=4,
        stores=(StoreParams(name="dc", inventory=50, is_dc=True, operating_cost=(1.0, 2.0, 3.0, 4.0)),
                StoreParams(name="a", inventory=20, list_price=2.5, salvage_rate=0.1,
                            lease=LeaseTerms(earliest_close=1, notice=1, lock_period=1, lock_until=3,
                                             rent_fraction=0.4)),
                StoreParams(name="b", inventory=0, closable=False)),
        demand=ElasticityDemand(base=(0.0, 3.0, 4.5), lift=(1.5, 1.2, 1.0, 0.7), beta_inv=0.2,
                                reference_inventory=(1.0, 20.0, 10.0), store_effect_cv=0.3, cv=0.9),
        markdowns=MarkdownRules(ladder=(0.0, 0.1, 0.3, 0.6), monotone=True, initial_max=0.3,
                                step_min=0.1, step_max=0.5, min_hold=2, max_changes=2),
        transfers=TransferNetwork(lead_time=[[0, 1, 2], [0, 0, 1], [0, 1, 0]],
                                  unit_cost=[[0, 0.05, 0.07], [0, 0, 0.02], [0, 0.02, 0]],
                                  fixed_cost=[[0, 5, 5], [0, 0, 1], [0, 1, 0]],
                                  allowed=[[False, True, True], [False, False, True], [False, True, False]],
                                  quantities=(0.0, 0.2, 0.7)),
        holding_cost=0.003, unit_cost=0.4, period_unit="week", max_price=None)


ROUND_TRIP = {**{k: f for k, f in liqenv.PRESETS.items()}, "custom": _custom,
              "tiny": lambda: tiny(transfers=tiny_network(2, 1, 0.1, 2.0)),
              "rules": lambda: rules_scenario(monotone=True, uniform_pricing=True, max_changes=3),
              "continuous": lambda: single_store().with_overrides(pricing="continuous", max_price=0.9)}


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
@pytest.mark.parametrize("name", sorted(ROUND_TRIP))
def test_save_load_round_trip(name, suffix, tmp_path):
    sc = ROUND_TRIP[name]()
    path = tmp_path / f"scenario{suffix}"
    sc.save(path)
    back = load_scenario(path)
    assert back == sc
    assert hash(back) == hash(sc)
    # the loaded scenario drives an identical environment
    a, b = liqenv.LiquidationEnv(sc), liqenv.LiquidationEnv(str(path))
    oa, _ = a.reset(seed=4)
    ob, _ = b.reset(seed=4)
    np.testing.assert_array_equal(oa, ob)
    a.action_space.seed(1)
    for _ in range(3):
        act = a.action_space.sample()
        ra, rb = a.step(act), b.step(act)
        np.testing.assert_array_equal(ra[0], rb[0])
        assert ra[1] == rb[1]


def test_yaml_is_plain_and_read_with_safe_load(tmp_path, monkeypatch):
    path = tmp_path / "s.yaml"
    chain().save(path)
    text = path.read_text()
    assert "!!python" not in text
    assert isinstance(yaml.safe_load(text), dict)
    loaders = []
    real_load = yaml.load

    def spy_load(stream, Loader):
        loaders.append(Loader)
        return real_load(stream, Loader)

    def unsafe(*a, **k):
        raise AssertionError("an unsafe YAML loader was used")

    monkeypatch.setattr(yaml, "load", spy_load)
    for name in ("unsafe_load", "full_load", "load_all", "unsafe_load_all"):
        monkeypatch.setattr(yaml, name, unsafe)
    assert load_scenario(path) == chain()
    assert loaders and all(issubclass(L, yaml.SafeLoader) or L.__name__ == "CSafeLoader" for L in loaders)


def test_yaml_with_python_tags_is_refused(tmp_path):
    path = tmp_path / "evil.yaml"
    marker = tmp_path / "pwned"
    path.write_text(f"!!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises((yaml.YAMLError, ValueError)):
        load_scenario(path)
    assert not marker.exists()


def test_bad_file_contents_and_suffixes(tmp_path):
    p = tmp_path / "list.json"
    p.write_text("[1, 2, 3]")
    with pytest.raises(ValueError, match="scenario="):
        load_scenario(p)
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\nhorizon: -3\nstores: [{inventory: 3}]\n")
    with pytest.raises(ValueError, match="horizon=-3"):
        load_scenario(p)
    with pytest.raises(ValueError, match="path="):
        single_store().save(tmp_path / "s.txt")
    p = tmp_path / "s.toml"
    p.write_text("x = 1")
    with pytest.raises(ValueError, match="path="):
        load_scenario(p)


# ------------------------------------------------------------------ overrides
def test_plain_overrides():
    sc = single_store().with_overrides(inventory=1800, horizon=60, valuation="weibull", weibull_shape=3.0,
                                       arrival_rate=120.0, decay=0.98, holding_cost=0.01,
                                       salvage_rate=0.2, pricing="continuous", min_hold=2)
    assert sc.total_inventory == 1800 and sc.horizon == 60 and sc.pricing == "continuous"
    assert sc.demand == ValuationDemand(arrival_rate=120.0, valuation="weibull", weibull_shape=3.0,
                                        decay=0.98)
    assert sc.holding_cost == 0.01 and sc.stores[0].salvage_rate == 0.2 and sc.markdowns.min_hold == 2
    # the original is unchanged (scenarios are frozen)
    assert single_store().total_inventory == 100
    with pytest.raises(dataclasses.FrozenInstanceError):
        sc.horizon = 3


def test_elasticity_and_lease_and_transfer_overrides():
    sc = chain().with_overrides(cv=0.8, store_effect_cv=0.1, notice=2, earliest_close=5,
                                monotone_markdowns=False, max_changes=4)
    assert sc.demand.cv == 0.8 and sc.demand.store_effect_cv == 0.1
    assert {s.lease.notice for s in sc.stores} == {2} and {s.lease.earliest_close for s in sc.stores} == {5}
    assert sc.markdowns.monotone is False and sc.markdowns.max_changes == 4
    tc = transfer_chain().with_overrides(lead_time=10, transfer_cost=0.05, transfer_fixed_cost=3.0,
                                         transfer_quantities=(0.0, 0.5))
    tn = tc.transfers
    assert tn.lead_time[0][1] == 10 and tn.unit_cost[0][1] == 0.05 and tn.fixed_cost[0][1] == 3.0
    assert tn.quantities == (0.0, 0.5)
    assert tn.pairs == transfer_chain().transfers.pairs


def test_per_store_list_overrides():
    sc = two_store().with_overrides(inventory=[10, 20], salvage_rate=[0.1, 0.3])
    assert sc.inventory.tolist() == [10, 20]
    assert [s.salvage_rate for s in sc.stores] == [0.1, 0.3]
    with pytest.raises(ValueError, match="inventory"):
        two_store().with_overrides(inventory=[1, 2, 3])


def test_dotted_path_overrides():
    sc = chain().with_overrides(**{"stores.3.inventory": 777, "stores.0.lease.notice": 2,
                                   "markdowns.min_hold": 3, "demand.cv": 1.1, "stores.5.name": "flagship"})
    assert sc.stores[3].inventory == 777 and sc.stores[2].inventory == chain().stores[2].inventory
    assert sc.stores[0].lease.notice == 2 and sc.stores[1].lease.notice == chain().stores[1].lease.notice
    assert sc.markdowns.min_hold == 3 and sc.demand.cv == 1.1 and sc.stores[5].name == "flagship"
    # "__" stands for "." (keyword arguments cannot contain dots)
    assert chain().with_overrides(stores__3__inventory=778).stores[3].inventory == 778
    tc = transfer_chain().with_overrides(**{"transfers.lead_time": 12})
    assert tc.transfers.lead_time[0][1] == 12


BAD_OVERRIDES = [
    ({"inventroy": 3}, "inventroy=3"),
    ({"inventory": "3"}, "inventory='3'"),
    ({"inventory": 2.5}, "inventory=2.5"),
    ({"decay": "x"}, "decay='x'"),
    ({"decay": 1.5}, "decay=1.5"),
    ({"valuation": "lognormal"}, "valuation='lognormal'"),
    ({"horizon": 0}, "horizon=0"),
    ({"horizon": "long"}, "horizon='long'"),
    ({"monotone_markdowns": "yes"}, "monotone='yes'"),
    ({"cv": 0.5}, "cv=0.5"),  # an elasticity field on a valuation scenario
    ({"lead_time": 3}, "lead_time=3"),  # no transfer network
    ({"stores.3.inventory": 5}, "stores.3.inventory=5"),
    ({"stores.x.inventory": 5}, "stores.x.inventory=5"),
    ({"stores.0.colour": 5}, "stores.0.colour=5"),
    ({"markdowns.colour": 5}, "markdowns.colour=5"),
    ({"pricing": 3}, "pricing=3"),
    ({"salvage_rate": [0.1, 0.2]}, "salvage_rate="),
]


@pytest.mark.parametrize("overrides,field", BAD_OVERRIDES, ids=[str(o) for o, _ in BAD_OVERRIDES])
def test_bad_overrides_raise_value_error_naming_them(overrides, field):
    with pytest.raises(ValueError, match=re.escape(field)):
        single_store().with_overrides(**overrides)


@pytest.mark.parametrize("value", [[[1]], [[1, 1], [1]], True])
def test_transfer_matrix_override_of_the_wrong_shape_names_it(value):
    with pytest.raises(ValueError, match=r"^lead_time="):
        two_store().with_overrides(lead_time=value)


def test_bad_override_on_a_chain_store():
    with pytest.raises(ValueError, match="inventory=-5"):
        chain().with_overrides(**{"stores.3.inventory": -5})
    with pytest.raises(ValueError, match="lead_time=-3"):
        transfer_chain().with_overrides(lead_time=-3)
    with pytest.raises(ValueError, match="pricing='continuous'"):
        chain().with_overrides(pricing="continuous")


def test_scenario_derived_arrays():
    sc = _custom()
    assert sc.n_stores == 3 and sc.total_inventory == 70
    assert sc.inventory.tolist() == [50, 20, 0]
    assert sc.salvage_price.tolist() == pytest.approx([0.0, 0.25, 0.0])
    assert sc.operating_costs.shape == (3, 4) and sc.operating_costs[0].tolist() == [1, 2, 3, 4]
    assert sc.locked_rent[1].tolist() == [0.0] * 4  # store a has no operating cost
    assert sc.max_lead == 2 and sc.has_transfers and sc.has_closing
    assert sc.selling.tolist() == [1, 2]
    assert sc.transfers.pairs == ((0, 1), (0, 2), (1, 2), (2, 1))
    assert single_store().price_cap == 1.0
    assert liqenv.make_scenario("SingleStoreExp-v1").price_cap == pytest.approx(np.log(1e4))
