"""Capacity budget: adapt the forecast quantile so the safety margin costs what was agreed.

A fixed forecast quantile is the wrong knob for an operator.  On a smooth trace
(nyc_taxi) the 0.9 quantile keeps nodes 30 % above what the demand needed; on a
spiky one whose typical load sits near one node (NAB Twitter volumes) the same
quantile costs little and still misses the excursions; on a noisy low-count one
it costs 40 %.  What an operator can state is a budget: "spend at most
``budget`` × the capacity the demand turned out to need".  :class:`QuantileBudget`
turns that into the quantile the planner uses, by integral control in logit
space (in the manner of adaptive conformal inference, with cost in place of
coverage):

* every tick's allocated nodes (ready + starting) are compared, once the demand
  over its start-up lead is known, with the **hindsight minimum** for that tick,
  ``max(ceil(d / (capacity × 0.8)))`` over ``[tick, tick + lead]`` (the oracle
  of the simulator's benchmark, DESIGN "Benchmarks"), floored at ``min_nodes``;
* both are averaged with an exponential half-life (default one day) and their
  ratio ``r`` drives ``logit(q) += gain × (budget − r)`` per day of ticks, clipped
  to ``[q_min, q_max]``: under budget, the margin grows (fewer under-provisioned
  ticks); over budget, it shrinks;
* every tick counts, the ones the ``min_nodes`` floor sized too: the budget is
  on total node-time, which is what the bill and the benchmark count.  A fleet
  idling at its floor therefore lets the quantile rise towards ``q_max``; when
  load returns, the ratio climbs and the quantile comes back down at
  ``gain_per_day`` (from 0.995 to 0.9 in about a day at a ratio 30 % over).
* a second stage (``max_headroom`` > 1) keeps spending once the quantile sits at
  ``q_max`` under budget.  On a spike-dominated trace whose typical load fits one
  or two nodes (Twitter volumes at a coarse node size) the 0.995 quantile rarely
  crosses a node boundary, so the margin stalls at ~1.04 × of an allowed 1.25 ×.
  The same integrator then travels past ``logit(q_max)``, in two legs of
  ``headroom_span`` logit units each, ``headroom = exp(headroom_per_logit × travel
  within the leg)`` up to ``max_headroom``:

  1. the **reactive floor** first: ``Policy.floor_headroom`` lowers the HPA floor's
     target utilization to ``target / floor_headroom``.  Margin in proportion to
     the load now is what meets the surprises the forecast misses (World Cup's match
     starts): multiplying the forecast instead spent the node-hours on the forecast's
     already-high quantile and left the floor where it was (World Cup, budget 1.4: the
     forecast alone 1.349 × oracle, 0.095 % of ticks short; the floor alone 1.323 ×,
     0.062 %; this floor-then-forecast order 1.357 ×, 0.062 %);
  2. then the **forecast**: ``Policy.forecast_headroom`` multiplies it, in effect a
     lower target utilization for the forecast part too, so at full travel both parts
     size for ``target / max_headroom``.  Where a lower floor buys nothing (a load of
     one or two nodes, whose ``ceil`` the floor's target hardly moves) the budget stays
     unspent in leg 1 and moves on to this leg.

  Being one integrator, it unwinds in order: over budget, the forecast's headroom
  returns to 1, then the floor's, before the quantile leaves ``q_max``.
  ``headroom_per_logit`` 0.05 is about the log-forecast slope of the quantile stage
  at ``q_max`` (0.34 σ per logit unit) for a forecast σ of 0.15 in log space;
  ``apply(policy)`` sets all three knobs.

* a **relief** leg (``min_floor_headroom`` < 1): over budget, the reactive floor is what
  spends, so ``floor_headroom`` falls below 1 and the floor sizes for a utilization above
  its target, while the quantile holds at ``relief_quantile``; below the leg the quantile
  goes on down to ``q_min``.  Under budget again, the same road back: the quantile rises
  to ``relief_quantile``, the relief unwinds, then the quantile rises on.  On a low-count
  trace the floor alone can cost the whole budget: from one noisy count it launches
  nodes that are ready a start-up later, when the burst (departures bunched on the hour)
  is over.  Until issue 6's third round the leg sat at ``q_min`` (``relief_quantile``
  None) and ended at the 80 % line (``target_utilization / 0.8``).  ATL departures, node
  size so the peak needs exactly 20 nodes (``--peak-nodes 20``): the HPA runs 1.245 x the
  oracle's node-hours (15.9 % of ticks short); predictive spent 1.327 x with the quantile
  at ``q_min`` (10.9 % short; log1p) and with that relief 1.254 x (11.9 %).  But there
  the integrator settles where the quantile meets ``q_min`` and the relief hardly moves
  (floor headroom mean 0.98 on DTW): the budget went on the floor's late nodes, not on
  the forecast.  ``from_policy`` therefore places the leg at the 0.8 quantile
  (``DEFAULT_RELIEF_QUANTILE``) and lets it go to 0.5 (``DEFAULT_MIN_FLOOR_HEADROOM``,
  a floor target of 1.4 at the default 0.7: the floor still meets a load well past what
  the ready nodes carry).  Measured on the simulator's recorded forecasts (the same
  forecasts, the budget changed), predictive's short steps as a share of the HPA's at
  x oracle, before -> after: departures (``benchmarks/flights.py``' node size) ATL 0.41
  -> 0.37, ORD 0.48 -> 0.41, LAX 0.52 -> 0.34, DFW 0.50 -> 0.30, DTW 0.56 -> 0.35, IAH
  0.58 -> 0.39, CLT 0.59 -> 0.36, all at 1.250-1.258 x; World Cup and Taylor unchanged;
  nyc_taxi 0.51 % -> 0.46 % of ticks short; Twitter AMZN 0.39 -> 0.30 (1.257 -> 1.256 x),
  IBM 0.41 -> 0.39 (1.254 -> 1.268 x), CRM 0.30 -> 0.29, PFE 0.57 -> 0.53 (1.250 -> 1.254
  x), FB, KO and CVS unchanged (their quantile stays above 0.8).  Chosen among leg
  positions 0.7, 0.8, 0.9 and depths 0.875, 0.5, 0.4 on those seven airports: 0.7 helped
  less (mean share 0.41 against 0.36) and cost nyc_taxi (0.52 %), 0.9 took IBM to
  1.302 x; 0.4 was no better than 0.5 (0.354 against 0.357).
  The leg is ``relief_span`` logit units long (``DEFAULT_RELIEF_SPAN``, 3: crossed in
  about a day at a ratio 0.3 over the budget, as the quantile's way from 0.995 to 0.9).
  It was ``log(2) / headroom_per_logit`` = 13.9 units, the second stage's slope, which
  took four to five days to cross: on an unseen trace whose cost sat in the forecast's
  quantile, not in the floor (NAB ELB request counts, 2014-04, peak 20 nodes), the ratio
  stayed near 1.46 for six days while the floor was relieved to no effect, and the run
  ended at 1.367 x the oracle's node-hours for a budget of 1.25 (0.39 of the HPA's short
  steps).  With 3 units: 1.278 x, 0.45.  The same forecasts, before -> after (short steps
  as a share of the HPA's, x oracle): departures ATL 0.367 -> 0.368 (1.250 both), ORD
  0.415 -> 0.422 (1.257 -> 1.251), LAX 0.339 -> 0.343, DFW 0.297 -> 0.304, DTW 0.349 ->
  0.357, IAH 0.388 -> 0.399, CLT 0.355 -> 0.360 (each 1.254-1.258 -> 1.250-1.252 x);
  Twitter AMZN 0.361 -> 0.342, IBM 0.388 -> 0.381, GOOG 0.430 -> 0.441 (1.263 -> 1.255
  x); World Cup, nyc_taxi, FB and Taylor unchanged.

The class is the only stateful piece; ``plan()`` stays pure and simply receives
``budget.apply(policy)`` (``forecast_quantile``, ``floor_headroom`` and
``forecast_headroom``).  The live loop and the simulator both own one and feed it the
same way (``observe`` after each tick).  The second stage is on by default, up to 2
(``DEFAULT_MAX_HEADROOM``, see its note); ``controller.capacity_headroom`` (live) and
``fleetcast simulate --capacity-headroom`` set it, 1 turns it off.

Tried and not kept (issue 6): a shortfall-priced allocation in place of the one
quantile, the Lagrangian of the count of short steps: above the forecast median,
keep per step only the nodes that each remove at least ``1 - q`` of the chance the
step is short (``q`` still the budget's knob).  On the flight departures it helped
(ORD 0.504 -> 0.468, ATL 0.448 -> 0.396 of the HPA's short steps at 1.25 × oracle)
but it was worse on simulated Poisson counts in 10 of 12 runs, and added nothing
once counts get the square root (``forecaster.transforms``, figures there);
priced from the floor up it gave up whole rises (all departures 0.38 % -> 2.13 %).
Nor an additive forecast headroom (leg 2 adding up to one spare node instead of
multiplying the forecast by up to 2), for traces whose typical load is a small part of
one node, where a multiple of the forecast still rounds to one node and the budget stays
unspent: on NAB's AAPL tweets (0.06 of a node typical) it spent 1.208 x the oracle's
node-hours instead of 1.167 x for the same 0.63 of the HPA's short ticks, which are burst
onsets (benchmarks/results/nab_unseen.md); KO 0.640 -> 0.660; World Cup, FB, CVS, PFE,
UPS and GOOG unchanged.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from controller.planner_types import Policy

DEFAULT_BUDGET = 1.25  # the live loop's, the simulator's and the CLI's default
# the second stage (BudgetParams.max_headroom), the same default for the live loop, the
# simulator and the CLI (1 turns it off).  It was opt-in while, in its forecast-only form
# (before the floor leg), it met no extra held-out trace (Twitter KO 0.76 -> 0.62 of the HPA's
# short steps, target 0.5).  With the floor leg first it spends budget the 0.995 quantile
# leaves unused, measured at 1d24bf1..fa9db4c with `fleetcast simulate` (off -> on, the
# predictive's short steps as a share of the HPA's, x oracle): Twitter FB 0.500 -> 0.457
# (1.213 -> 1.245), World Cup 0.26 % -> 0.20 % short (1.193 -> 1.240); nyc_taxi, AMZN, IBM
# unchanged (their budget binds).  The held-out Twitter traces, run after those: CVS
# 0.627 -> 0.500 (1.170 -> 1.259), KO 0.82 -> 0.68 (1.031 -> 1.191), CRM and PFE unchanged.
DEFAULT_MAX_HEADROOM = 2.0
# the relief leg's position and depth in from_policy (see "a relief leg" above)
DEFAULT_RELIEF_QUANTILE = 0.8
DEFAULT_MIN_FLOOR_HEADROOM = 0.5
# logit units from the top of the relief leg to its bottom: 3, so that, like the quantile's
# way from 0.995 to 0.9 (3.1 units), the leg is crossed in about a day at a ratio 0.3 over
# the budget (gain_per_day 10); see "a relief leg" above.
DEFAULT_RELIEF_SPAN = 3.0
UNDERPROVISION_UTILIZATION = 0.8  # DESIGN: a tick is short when d > ready × capacity × 0.8
_EPS = 1e-9


@dataclass(frozen=True)
class BudgetParams:
    budget: float = DEFAULT_BUDGET  # allocated node-time / hindsight minimum the margin may cost
    half_life_seconds: float = 86_400.0
    gain_per_day: float = 10.0  # logit units per day per unit of (budget - ratio)
    q_min: float = 0.5
    q_max: float = 0.995
    # second stage past q_max (1: none): the floor's headroom, then the forecast's, each up to
    # max_headroom, exp(headroom_per_logit × the integrator's travel within its leg)
    max_headroom: float = 1.0
    headroom_per_logit: float = 0.05
    # relief below q_min (1: none): over budget with the quantile at q_min, the floor's
    # headroom falls to this (< 1: the floor sizes for a higher target utilization)
    min_floor_headroom: float = 1.0
    # where the relief leg sits: the quantile it holds while the floor's headroom goes down
    # (None: q_min, the relief only once the quantile has nowhere lower to go)
    relief_quantile: float | None = None
    # the relief leg's length in logit units (see DEFAULT_RELIEF_SPAN)
    relief_span: float = DEFAULT_RELIEF_SPAN

    def __post_init__(self) -> None:
        if not self.budget >= 1.0:
            raise ValueError(f"capacity budget must be >= 1 (a multiple of the minimum), "
                             f"got {self.budget}")
        if not 0.0 < self.q_min < self.q_max < 1.0:
            raise ValueError(f"need 0 < q_min < q_max < 1, got {self.q_min} and {self.q_max}")
        if self.half_life_seconds <= 0 or self.gain_per_day < 0:
            raise ValueError("half_life_seconds must be > 0 and gain_per_day >= 0")
        if not 0.0 < self.min_floor_headroom <= 1.0:
            raise ValueError(f"min_floor_headroom must be in (0, 1], got {self.min_floor_headroom}")
        if self.relief_quantile is not None and not (
            self.q_min <= self.relief_quantile <= self.q_max
        ):
            raise ValueError(f"relief_quantile must be in [q_min, q_max], got "
                             f"{self.relief_quantile}")
        if not self.relief_span > 0:
            raise ValueError(f"relief_span must be > 0, got {self.relief_span}")
        if not self.max_headroom >= 1.0 or not self.headroom_per_logit > 0:
            raise ValueError(f"need max_headroom >= 1 and headroom_per_logit > 0, got "
                             f"{self.max_headroom} and {self.headroom_per_logit}")

    @property
    def headroom_span(self) -> float:
        """Logit units of each leg of the second stage (0: no second stage)."""
        return math.log(self.max_headroom) / self.headroom_per_logit


def nodes_needed(demand_rps: Any, node_capacity_rps: float) -> Any:
    """Fewest ready nodes that serve ``demand_rps`` (a number or an array) below the 80 % line."""
    cap = node_capacity_rps * UNDERPROVISION_UTILIZATION
    return np.ceil(np.maximum(demand_rps, 0.0) / cap - _EPS)


def _logit(q: float) -> float:
    return math.log(q / (1.0 - q))


class QuantileBudget:
    """The forecast quantile that keeps allocated capacity near ``budget`` × hindsight need."""

    def __init__(
        self,
        params: BudgetParams,
        *,
        initial_quantile: float,
        tick_seconds: float,
        startup_seconds: float,
        node_capacity_rps: float,
        min_nodes: int = 1,
    ) -> None:
        if tick_seconds <= 0 or node_capacity_rps <= 0:
            raise ValueError("tick_seconds and node_capacity_rps must be > 0")
        self.params = params
        self.min_nodes = max(1, int(min_nodes))
        self.node_capacity_rps = float(node_capacity_rps)
        self.lead_ticks = math.ceil(max(startup_seconds, 0.0) / tick_seconds - _EPS)
        self._decay = 0.5 ** (tick_seconds / params.half_life_seconds)
        self._gain = params.gain_per_day * tick_seconds / 86_400.0
        self._q_lo, self._q_hi = _logit(params.q_min), _logit(params.q_max)
        self._span = params.headroom_span
        self._relief = params.relief_span if params.min_floor_headroom < 1.0 else 0.0
        # the relief leg spans [_q_relief - _relief, _q_relief]; below it the quantile goes on
        # down from relief_quantile to q_min, shifted by the leg's length
        rq = params.relief_quantile
        self._q_relief = self._q_lo if rq is None else _logit(rq)
        self._lo = self._q_lo - self._relief
        self._hi = self._q_hi + 2 * self._span  # leg 1 the floor's, leg 2 the forecast's
        q0 = _logit(min(max(initial_quantile, params.q_min), params.q_max))
        self._level = q0 if q0 >= self._q_relief else q0 - self._relief
        self._allocated = 0.0  # decayed sums (same weights, so their ratio is a weighted mean)
        self._needed = 0.0
        # ticks still inside their lead, oldest first: [allocated, hindsight need so far];
        # the oldest has seen len(_pending) ticks of demand
        self._pending: deque[list[int]] = deque()
        self.accounted_ticks = 0

    @classmethod
    def from_policy(
        cls, policy: Policy, budget: float, max_headroom: float = DEFAULT_MAX_HEADROOM
    ) -> QuantileBudget:
        """The budget for a planner policy: it starts from the policy's forecast quantile."""
        return cls(
            BudgetParams(budget=budget, max_headroom=max_headroom,
                         min_floor_headroom=DEFAULT_MIN_FLOOR_HEADROOM,
                         relief_quantile=DEFAULT_RELIEF_QUANTILE),
            initial_quantile=policy.forecast_quantile,
            tick_seconds=policy.tick_seconds,
            startup_seconds=policy.startup_seconds,
            node_capacity_rps=policy.node_capacity_rps,
            min_nodes=policy.min_nodes,
        )

    @property
    def quantile(self) -> float:
        level = self._level
        if level < self._q_relief - self._relief:  # below the relief leg
            level += self._relief
        elif level < self._q_relief:  # on the relief leg: its quantile is held
            level = self._q_relief
        return 1.0 / (1.0 + math.exp(-min(max(level, self._q_lo), self._q_hi)))

    @property
    def floor_headroom(self) -> float:
        """Divisor of the reactive floor's target utilization: above 1 on leg 1 past ``q_max``,
        below 1 on the relief leg (at ``relief_quantile``) and under it, 1 between."""
        past = min(max(self._level - self._q_hi, 0.0), self._span)
        # the relief leg: down to min_floor_headroom, in proportion to the way down it
        down = -min(max(self._level - self._q_relief, -self._relief), 0.0)
        relieved = down / self._relief * math.log(self.params.min_floor_headroom) if down else 0.0
        return math.exp(self.params.headroom_per_logit * past + relieved)

    @property
    def headroom(self) -> float:
        """Multiplier on the forecast (leg 2, once the floor's headroom is full; 1 before)."""
        past = max(self._level - self._q_hi - self._span, 0.0)
        return math.exp(self.params.headroom_per_logit * past)

    def apply(self, policy: Policy) -> Policy:
        """``policy`` sized with this budget's forecast quantile and both headrooms."""
        return replace(
            policy,
            forecast_quantile=self.quantile,
            floor_headroom=self.floor_headroom,
            forecast_headroom=self.headroom,
        )

    @property
    def ratio(self) -> float | None:
        """Allocated over hindsight-needed node-time (decayed), once anything is accounted."""
        return self._allocated / self._needed if self._needed > 0 else None

    def need(self, demand_rps: float) -> int:
        return max(self.min_nodes, int(nodes_needed(demand_rps, self.node_capacity_rps)))

    def observe(self, allocated: int, demand_rps: float) -> None:
        """Record one finished tick: nodes allocated during it and the demand it saw."""
        need = self.need(demand_rps)
        for entry in self._pending:
            entry[1] = max(entry[1], need)
        self._pending.append([int(allocated), need])
        while len(self._pending) > self.lead_ticks:
            alloc, hindsight = self._pending.popleft()
            self._account(alloc, hindsight)

    def _account(self, allocated: int, hindsight: int) -> None:
        d = self._decay
        self._allocated = d * self._allocated + (1 - d) * allocated
        self._needed = d * self._needed + (1 - d) * hindsight
        self.accounted_ticks += 1
        ratio = self._allocated / self._needed
        level = self._level + self._gain * (self.params.budget - ratio)
        self._level = min(max(level, self._lo), self._hi)

    def state(self) -> dict[str, float]:
        """What a restart needs to carry on (the pending lead window is dropped)."""
        return {
            "level": self._level,
            "allocated": self._allocated,
            "needed": self._needed,
            "accounted_ticks": float(self.accounted_ticks),
        }

    def restore(self, state: dict[str, float]) -> None:
        self._level = min(max(float(state["level"]), self._lo), self._hi)
        self._allocated = float(state["allocated"])
        self._needed = float(state["needed"])
        self.accounted_ticks = int(state.get("accounted_ticks", 0))
