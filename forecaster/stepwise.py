"""The stepwise ARMA order search (Hyndman-Khandakar) and its cheap criterion.

A grid search over ARMA orders by exact maximum likelihood costs seconds per
order on weeks of 5-minute data, which is why the search used to stop at a
wall-clock budget, and why the same data then gave different models on a
busy machine than on a quiet one.  This is the search of R's ``auto.arima``
(and statsforecast's ``AutoARIMA``) instead: start from the best of a few
seed orders, move p, q or both by one from the current best while the
criterion improves, and stop when no move does or after ``max_fits`` orders.
Like ``auto.arima`` on series longer than 150 points (``approximation``), the
orders are compared by an AICc from conditional sums of squares, milliseconds
per order; only the winner is then estimated by exact likelihood
(``forecaster.selection``).  Nothing here reads a clock except through the
``out_of_time`` callback, so the orders tried depend only on the data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.signal import lfilter

# starting orders (p, q), as in auto.arima, clipped to the bounds
SEED_ORDERS = ((2, 2), (0, 0), (1, 0), (0, 1))
# moves from the current best, in the order auto.arima tries them
STEPS = ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))
MAX_ORDER_FITS = 94  # orders one search scores at most (auto.arima's nmodels)
LONG_AR = 20  # the long autoregression whose residuals start the MA terms (Hannan-Rissanen)
ROOT_MARGIN = 1.01  # like auto.arima, reject orders with a root this close to the unit circle


@dataclass(frozen=True)
class CssFit:
    """An ARMA(p, q) estimated by conditional least squares: AR then MA coefficients."""

    p: int
    q: int
    coef: np.ndarray
    aicc: float
    sigma2: float  # the mean squared one-step error


def stepwise_search(
    max_p: int,
    max_q: int,
    max_fits: int,
    score: Callable[[int, int], float],
    out_of_time: Callable[[], bool] = lambda: False,
) -> tuple[tuple[int, int] | None, list[tuple[int, int]], str]:
    """The Hyndman-Khandakar stepwise search over ARMA orders (p, q).

    ``score(p, q)`` is the criterion to minimise, ``inf`` for an order that
    cannot be estimated.  The seeds (``SEED_ORDERS`` within the bounds) are
    scored first; then the moves ``STEPS`` from the current best are tried in
    turn and the first that lowers the score becomes the best, from which the
    moves start again.  The search ends when no move improves, after
    ``max_fits`` scored orders, or when ``out_of_time()`` (a safety cap,
    checked once an order has a finite score).  Returns the best order (None
    if nothing scored finite), the orders scored in sequence and why it
    stopped: ``"converged"``, ``"max_fits"`` or ``"time"``.
    """
    scores: dict[tuple[int, int], float] = {}
    best: tuple[int, int] | None = None

    def visit(order: tuple[int, int]) -> str | None:
        nonlocal best
        if len(scores) >= max_fits:
            return "max_fits"
        if best is not None and out_of_time():
            return "time"
        scores[order] = score(*order)
        if np.isfinite(scores[order]) and (best is None or scores[order] < scores[best]):
            best = order
        return None

    for seed in dict.fromkeys((min(p, max_p), min(q, max_q)) for p, q in SEED_ORDERS):
        if (stop := visit(seed)) is not None:
            return best, list(scores), stop
    while best is not None:
        current = best
        for dp, dq in STEPS:
            p, q = current[0] + dp, current[1] + dq
            if not (0 <= p <= max_p and 0 <= q <= max_q) or (p, q) in scores:
                continue
            if (stop := visit((p, q))) is not None:
                return best, list(scores), stop
            if best != current:
                break
        else:
            break
    return best, list(scores), "converged"


def aicc(llf: float, k: int, n: int) -> float:
    """Akaike's criterion with the small-sample correction, for ``k`` parameters."""
    return -2.0 * llf + 2.0 * k + 2.0 * k * (k + 1) / max(n - k - 1, 1)


class CssScorer:
    """Conditional-sum-of-squares fits of ARMA(p, q) to one zero-mean series ``w``.

    Every order is scored on the same residuals, those after the first
    ``burn`` points (the largest p the search may reach), so their AICc are
    comparable.  The fit starts from Hannan-Rissanen estimates (regression on
    past values and on the residuals of a long autoregression) and runs
    Levenberg-Marquardt on the exact recursion of the one-step errors.
    """

    def __init__(self, w: np.ndarray, burn: int) -> None:
        self.w = np.asarray(w, dtype=float)
        self.burn = burn
        self.n = len(self.w) - burn
        lags = min(LONG_AR, len(self.w) // 5)
        self.lags = lags
        self.proxy = np.zeros_like(self.w)
        if lags > 0:
            x = np.column_stack([self.w[lags - i:len(self.w) - i] for i in range(1, lags + 1)])
            coef, *_ = np.linalg.lstsq(x, self.w[lags:], rcond=None)
            self.proxy[lags:] = self.w[lags:] - x @ coef

    def fit(self, p: int, q: int, start: np.ndarray | None = None) -> CssFit | None:
        """The CSS estimate of ARMA(p, q) and its AICc, or None (unstable, non-invertible).

        ``start``: coefficients to start from instead of Hannan-Rissanen's.
        """
        w, burn = self.w, self.burn
        if p == q == 0:
            sse = float(np.sum(w[burn:] ** 2))
            return CssFit(0, 0, np.empty(0), aicc(self._llf(sse), 1, self.n), sse / self.n)
        coef = self._start(p, q) if start is None else np.array(start, dtype=float)

        def errors(x: np.ndarray) -> np.ndarray:
            e = lfilter(np.r_[1.0, -x[:p]], np.r_[1.0, x[p:]], w)[burn:]
            return e if np.all(np.isfinite(e)) else np.full(len(e), 1e6)

        with np.errstate(all="ignore"):
            res = least_squares(errors, coef, method="lm")
        if not (_inside(res.x[:p], -1.0) and _inside(res.x[p:], 1.0)):
            return None
        sse = float(np.sum(res.fun**2))
        return CssFit(p, q, np.asarray(res.x, dtype=float),
                      aicc(self._llf(sse), p + q + 1, self.n), sse / self.n)

    def _llf(self, sse: float) -> float:
        sigma2 = max(sse / self.n, 1e-300)
        return -0.5 * self.n * (np.log(2 * np.pi * sigma2) + 1)

    def _start(self, p: int, q: int) -> np.ndarray:
        """Hannan-Rissanen estimates, or zeros where they are not stable/invertible."""
        w, m = self.w, max(p, q, self.lags)
        cols = [w[m - i:len(w) - i] for i in range(1, p + 1)]
        cols += [self.proxy[m - j:len(w) - j] for j in range(1, q + 1)]
        coef, *_ = np.linalg.lstsq(np.column_stack(cols), w[m:], rcond=None)
        if not _inside(coef[:p], -1.0):
            coef[:p] = 0.0
        if not _inside(coef[p:], 1.0):
            coef[p:] = 0.0
        return coef


def _inside(coef: np.ndarray, sign: float) -> bool:
    """Whether 1 + sign * (c1 z + c2 z^2 + ...) has all roots beyond ``ROOT_MARGIN``."""
    if len(coef) == 0:
        return True
    inverse_roots = np.roots(np.r_[1.0, sign * np.asarray(coef)])
    return bool(np.all(np.abs(inverse_roots) < 1.0 / ROOT_MARGIN))
