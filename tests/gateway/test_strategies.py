"""Each load-balancing rule, on its own, with injected randomness and time."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from gateway.strategies import (
    STRATEGIES,
    Candidate,
    LeastRequest,
    PeakEwma,
    PeakEwmaChooser,
    RandomChoice,
    RoundRobin,
    WeightedRoundRobin,
    make_chooser,
)

ABC = [Candidate("a"), Candidate("b"), Candidate("c")]


def picks(chooser: object, candidates: list[Candidate], n: int) -> list[str]:
    return [chooser.choose(candidates).id for _ in range(n)]  # type: ignore[attr-defined]


def test_round_robin_cycles_in_order() -> None:
    assert picks(RoundRobin(), ABC, 7) == ["a", "b", "c", "a", "b", "c", "a"]


def test_round_robin_survives_membership_change() -> None:
    rr = RoundRobin()
    picks(rr, ABC, 2)
    assert rr.choose(ABC[:1]).id == "a"


def test_random_is_uniform_and_seeded() -> None:
    counts = Counter(picks(RandomChoice(random.Random(1)), ABC, 3000))
    assert set(counts) == {"a", "b", "c"}
    assert all(900 < c < 1100 for c in counts.values())
    assert picks(RandomChoice(random.Random(7)), ABC, 10) == picks(
        RandomChoice(random.Random(7)), ABC, 10)


def test_weighted_round_robin_is_smooth_and_proportional() -> None:
    weighted = [Candidate("a", weight=5), Candidate("b", weight=1), Candidate("c", weight=1)]
    sequence = picks(WeightedRoundRobin(), weighted, 7)
    assert Counter(sequence) == {"a": 5, "b": 1, "c": 1}
    assert sequence == ["a", "a", "b", "a", "c", "a", "a"]  # nginx's interleaving


def test_weighted_round_robin_skips_zero_weight() -> None:
    weighted = [Candidate("a", weight=0), Candidate("b", weight=3)]
    assert set(picks(WeightedRoundRobin(), weighted, 6)) == {"b"}


def test_least_request_prefers_fewer_inflight_of_two_sampled() -> None:
    chooser = LeastRequest(random.Random(3))
    busy = [Candidate("a", inflight=10), Candidate("b", inflight=0)]
    assert set(picks(chooser, busy, 20)) == {"b"}


def test_least_request_never_picks_the_worst_of_three() -> None:
    chooser = LeastRequest(random.Random(5))
    three = [Candidate("a", inflight=1), Candidate("b", inflight=2), Candidate("c", inflight=9)]
    counts = Counter(picks(chooser, three, 600))
    assert "c" not in counts
    assert counts["a"] > counts["b"]  # a wins whenever it is sampled


def test_least_request_single_candidate() -> None:
    assert LeastRequest().choose([Candidate("x")]).id == "x"


def test_peak_ewma_avoids_the_slow_backend() -> None:
    chooser = PeakEwmaChooser(random.Random(2))
    backends = [Candidate("fast", latency_ewma_s=0.005, inflight=2),
                Candidate("slow", latency_ewma_s=0.200, inflight=0)]
    assert set(picks(chooser, backends, 20)) == {"fast"}  # 0.015 < 0.200


def test_peak_ewma_weighs_inflight() -> None:
    chooser = PeakEwmaChooser(random.Random(2))
    backends = [Candidate("a", latency_ewma_s=0.010, inflight=9),
                Candidate("b", latency_ewma_s=0.020, inflight=1)]
    assert set(picks(chooser, backends, 20)) == {"b"}  # 0.1 vs 0.04


def test_peak_ewma_tracker_jumps_to_peaks_and_decays() -> None:
    ewma = PeakEwma(decay_s=10.0)
    assert ewma.observe(0.010, now=0.0) == 0.010
    assert ewma.observe(0.300, now=1.0) == 0.300  # a slow sample counts at once
    after = ewma.observe(0.010, now=11.0)  # one decay period later
    assert 0.010 < after < 0.300 * 0.5
    assert ewma.current(now=41.0) < after * 0.1  # idle: decays so it gets probed again


@pytest.mark.parametrize("name", STRATEGIES)
def test_every_strategy_refuses_no_candidates(name: str) -> None:
    with pytest.raises(ValueError):
        make_chooser(name).choose([])


def test_unknown_strategy() -> None:
    with pytest.raises(ValueError, match="least_request"):
        make_chooser("fastest")


def test_least_request_ties_go_to_the_faster_backend() -> None:
    chooser = LeastRequest(random.Random(4))
    idle = [Candidate("fast", latency_mean_s=0.01), Candidate("slow", latency_mean_s=0.2)]
    assert set(picks(chooser, idle, 20)) == {"fast"}


def test_peak_ewma_cold_backend_is_probed_but_not_flooded() -> None:
    chooser = PeakEwmaChooser(random.Random(1))
    warm = Candidate("warm", latency_ewma_s=0.01, inflight=3)
    assert chooser.choose([warm, Candidate("cold")]).id == "cold"  # idle: probe it
    assert chooser.choose([warm, Candidate("cold", inflight=1)]).id == "warm"


# -- least_request: Envoy's weight / (active + 1) ** bias, weight derated by relative slowness --

FAST_MS = 0.016
SLOW_MS = 0.216  # +200 ms


def test_least_request_idle_slow_node_loses_to_busy_fast_ones() -> None:
    """Plain in-flight P2C would pick the idle slow node in every draw it is in."""
    chooser = LeastRequest(random.Random(6))
    fleet = [Candidate("fast1", latency_mean_s=FAST_MS, inflight=1),
             Candidate("fast2", latency_mean_s=FAST_MS, inflight=2),
             Candidate("slow", latency_mean_s=SLOW_MS, inflight=0)]
    assert "slow" not in picks(chooser, fleet, 200)


def test_least_request_slow_node_still_gets_work_when_peers_are_swamped() -> None:
    chooser = LeastRequest(random.Random(6))
    fleet = [Candidate("fast", latency_mean_s=FAST_MS, inflight=30),
             Candidate("slow", latency_mean_s=SLOW_MS, inflight=0)]
    assert chooser.choose(fleet).id == "slow"  # 100 * 16/216 = 7.4 > 100 / 31


def test_least_request_peers_of_similar_speed_are_ranked_by_active_requests() -> None:
    chooser = LeastRequest(random.Random(8))
    # b is 1.5x slower than a but idle: among peers within 2x, fewer active requests wins.
    peers = [Candidate("a", latency_mean_s=0.010, inflight=1),
             Candidate("b", latency_mean_s=0.015, inflight=0)]
    assert set(picks(chooser, peers, 20)) == {"b"}


def test_least_request_score_follows_envoy_formula() -> None:
    chooser = LeastRequest(active_request_bias=1.0)
    plain = Candidate("a", weight=100, inflight=3)
    assert chooser.score(plain, reference_s=0.0) == 25.0  # 100 / (3 + 1)
    slow = Candidate("s", weight=100, inflight=0, latency_mean_s=0.2)
    assert chooser.score(slow, reference_s=0.02) == pytest.approx(10.0)  # derated to 10 %
    fast = Candidate("f", weight=100, inflight=0, latency_mean_s=0.01)
    assert chooser.score(fast, reference_s=0.02) == 100.0  # never boosted above its weight
    squared = LeastRequest(active_request_bias=2.0)
    assert squared.score(plain, reference_s=0.0) == 100 / 16


def test_least_request_reference_is_the_fleet_low_median() -> None:
    fleet = [Candidate("a", latency_mean_s=0.01), Candidate("b", latency_mean_s=0.2),
             Candidate("cold")]
    assert LeastRequest.reference_latency(fleet) == 0.01  # low median, cold one ignored
    assert LeastRequest.reference_latency([Candidate("x")]) == 0.0


def test_least_request_weights_count() -> None:
    chooser = LeastRequest(random.Random(9))
    heavy = [Candidate("big", weight=300, inflight=1), Candidate("small", weight=100, inflight=0)]
    assert set(picks(chooser, heavy, 20)) == {"big"}  # 150 > 100
    ignore_active = LeastRequest(random.Random(9), active_request_bias=0.0)
    heavy = [Candidate("big", weight=200, inflight=9), Candidate("small", weight=100)]
    assert set(picks(ignore_active, heavy, 20)) == {"big"}


def test_least_request_unmeasured_backend_is_probed_when_idle_but_loses_ties() -> None:
    chooser = LeastRequest(random.Random(1))
    warm = Candidate("warm", latency_mean_s=FAST_MS, inflight=1)
    assert chooser.choose([warm, Candidate("cold")]).id == "cold"  # idle: probe it
    assert set(picks(chooser, [warm, Candidate("cold", inflight=1)], 20)) == {"warm"}


def test_least_request_rejects_negative_bias() -> None:
    with pytest.raises(ValueError, match="active_request_bias"):
        LeastRequest(active_request_bias=-1)


def test_least_request_ignores_the_peak_sensitive_ewma() -> None:
    """A stall that spikes a fast node's peak EWMA must not lift the fleet reference."""
    chooser = LeastRequest(random.Random(2))
    fleet = [Candidate("fast1", latency_mean_s=FAST_MS, latency_ewma_s=0.3, inflight=1),
             Candidate("fast2", latency_mean_s=FAST_MS, latency_ewma_s=FAST_MS, inflight=1),
             Candidate("slow", latency_mean_s=SLOW_MS, latency_ewma_s=SLOW_MS, inflight=0)]
    assert "slow" not in picks(chooser, fleet, 100)


def test_plain_average_does_not_jump_to_peaks() -> None:
    mean = PeakEwma(decay_s=3.0, peak=False)
    mean.observe(0.016, now=0.0)
    assert mean.observe(0.300, now=0.03) < 0.03  # one stall barely moves it
    peak = PeakEwma(decay_s=3.0)
    peak.observe(0.016, now=0.0)
    assert peak.observe(0.300, now=0.03) == 0.300
