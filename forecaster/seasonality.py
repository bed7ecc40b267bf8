"""Finding seasonal periods in a load series and describing them as Fourier terms.

Load has several seasonalities at once (daily and weekly for minute-to-hour
steps) whose periods are long (288 and 2016 steps at 5 minutes), far too long
for seasonal ARIMA.  Sines and cosines of those periods, used as regressors,
carry them cheaply; this module proposes candidate periods (calendar periods
plus periodogram peaks), keeps those that explain a real share of the
variance, and builds the Fourier design matrix from absolute timestamps so
that features for future or appended points line up with the fitted ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DAY_SECONDS = 86_400.0
WEEK_SECONDS = 7 * DAY_SECONDS
MIN_CALENDAR_STEPS = 4  # a calendar period coarser steps still model needs this many steps
MIN_CYCLES = 2.0  # a period needs this many full cycles in the data to be estimated
MIN_SHARE = 0.03  # share of (detrended) variance a period must explain to be kept
MIN_FOUND_CYCLES = 4.0  # a period found by the periodogram (not calendar) needs more cycles
MIN_FOUND_ACF = 0.25  # ... and this autocorrelation at its lag, so noise peaks are not seasons
# a periodogram peak within 2 % of a calendar period's k-th harmonic (k up to this) is
# carried by that period's own terms and not modelled again
NEAR_HARMONIC_MAX = 10
FEW_CYCLES = 4.0  # a season seen in fewer cycles has its harmonic count checked on a holdout
HOLDOUT_COUNTS = (1, 2, 3, 4, 6, 8, 12, 16, 20, 28, 40, 56, 80, 112)  # counts it tries
HARMONIC_RANK_TOL = 1e-7  # relative |R_ii| below which a Fourier column adds nothing new
MAX_HARMONICS = 144  # default bound on harmonics per season: a 5-minute day up to Nyquist
HARMONIC_CHOICE_POINTS = 16_128  # harmonic counts are chosen on at most the last 8 weeks at 5 min


@dataclass(frozen=True)
class Season:
    """One seasonal component: its period in steps and its number of harmonics."""

    period: float
    harmonics: int

    def describe(self) -> str:
        return f"{self.period:g}x{self.harmonics}"


def time_positions(index: pd.DatetimeIndex, step_seconds: float) -> np.ndarray:
    """Positions in steps since the Unix epoch, on the series' own wall clock.

    Offset-aware timestamps are read on their local wall clock (daily load
    follows people's clocks), naive ones as they are.
    """
    if index.tz is not None:
        index = index.tz_localize(None)
    ns = index.as_unit("ns").asi8.astype(np.float64)
    return ns / 1e9 / step_seconds


def fourier_matrix(positions: np.ndarray, seasons: tuple[Season, ...]) -> np.ndarray:
    """Columns sin/cos(2 pi k t / P) for every season and harmonic k = 1..K.

    Filled season by season into one preallocated array (sin 1, cos 1, sin 2,
    cos 2, ...): harmonic k is the k-th power of exp(2 pi i t / P), a running
    product (rounding grows like k times machine epsilon, 7e-14 at k = 144)
    that is cheaper than a sine and a cosine per cell; a long per-minute
    file's design is 125,000 rows by hundreds of columns.
    """
    positions = np.asarray(positions, dtype=float)
    out = np.empty((len(positions), sum(2 * s.harmonics for s in seasons)))
    col = 0
    for season in seasons:
        # reduce the phase first so huge epoch positions keep full precision
        phase = np.mod(positions, season.period) / season.period
        first = np.exp(2j * np.pi * phase)
        powers = np.cumprod(np.broadcast_to(first[:, None], (len(first), season.harmonics)),
                            axis=1)
        end = col + 2 * season.harmonics
        out[:, col:end:2] = powers.imag
        out[:, col + 1 : end : 2] = powers.real
        col = end
    return out


def seasonal_regression(positions: np.ndarray, seasons: tuple[Season, ...], coef: np.ndarray,
                        d: int) -> np.ndarray:
    """The Fourier seasons' regression at ``positions`` with the coefficients
    ``fit_fourier`` gave for ``d`` (an intercept first when ``d == 0``)."""
    if coef.size == 0:
        return np.zeros(len(positions))
    design = fourier_matrix(positions, seasons)
    if d == 0:
        design = np.column_stack([np.ones(len(positions)), design])
    if design.shape[1] == 0:
        return np.zeros(len(positions))
    return design @ coef


def solve_least_squares(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The minimum-norm least-squares coefficients of ``y`` on ``x``, via the normal equations.

    ``np.linalg.lstsq`` runs an SVD of the whole tall design, which on a
    125,000 x 342 design (a per-minute file with daily and weekly seasons) took
    2.5 s of a 15 s budget; the Gram matrix costs a tenth of that and its
    solution is the same: the columns are equilibrated first (differenced low
    harmonics are a hundred times smaller than high ones), so the Gram's
    condition number stays near the square of a well-conditioned design's, and
    the pseudo-inverse drops the directions of exactly repeated columns (a
    weekly harmonic that is a daily one: the 7th of a week is the 1st of a day).
    """
    if x.shape[1] == 0:
        return np.empty(0)
    norms = np.sqrt(np.einsum("ij,ij->j", x, x))
    norms[norms == 0] = 1.0
    scaled = x / norms
    gram = scaled.T @ scaled
    coef, *_ = np.linalg.lstsq(gram, scaled.T @ y, rcond=None)
    return np.asarray(coef / norms, dtype=float)


def calendar_periods(step_seconds: float) -> list[float]:
    """Daily and weekly periods (in steps): both for steps from 1 to 60 minutes (and
    finer), and for coarser steps each one that still spans ``MIN_CALENDAR_STEPS``
    steps: the day up to 6-hour steps, the week up to 42-hour ones, so daily
    totals get their weekly season rather than a periodogram peak near it."""
    return [
        seconds / step_seconds
        for seconds in (DAY_SECONDS, WEEK_SECONDS)
        if step_seconds <= 3600.0 or seconds / step_seconds >= MIN_CALENDAR_STEPS
    ]


def periodogram_periods(values: np.ndarray, top: int = 3) -> list[float]:
    """The strongest periodogram peaks of the differenced series, as periods in steps."""
    x = np.diff(values)
    if len(x) < 16:
        return []
    x = (x - x.mean()) * np.hanning(len(x))
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x))
    mask = (freqs > 0) & (freqs <= 0.5) & (1.0 / np.maximum(freqs, 1e-12) >= 3)
    freqs, power = freqs[mask], power[mask]
    if len(power) == 0:
        return []
    # differencing boosts high frequencies; undo it to rank peaks fairly
    gain = np.maximum(4 * np.sin(np.pi * freqs) ** 2, 1e-12)
    power = power / gain
    order = np.argsort(power)[::-1]
    periods: list[float] = []
    for i in order[: 10 * top]:
        period = 1.0 / freqs[i]
        whole = max(round(period), 1)
        # a whole number of steps (a cron job, an hour) when within 1 %, or within half
        # a frequency bin (a short series cannot tell 7.07 steps from 7)
        if abs(period - whole) / period < 0.01 or abs(1 / period - 1 / whole) <= 0.5 / len(x):
            period = float(whole)
        if all(abs(period - p) / p > 0.1 for p in periods):
            periods.append(float(period))
        if len(periods) >= top:
            break
    return periods


def detrend(values: np.ndarray, window: int) -> np.ndarray:
    """Remove a slow trend with a centred moving average ``window`` long."""
    window = max(3, min(window, len(values)))
    trend = pd.Series(values).rolling(window, center=True, min_periods=1).mean().to_numpy()
    return values - trend


def _share_explained(target: np.ndarray, design: np.ndarray) -> float:
    total = float(np.sum((target - target.mean()) ** 2))
    if total <= 0 or design.shape[1] == 0:
        return 0.0
    x = np.column_stack([np.ones(len(target)), design])
    coef, *_ = np.linalg.lstsq(x, target, rcond=None)
    resid = target - x @ coef
    return max(0.0, 1.0 - float(np.sum(resid**2)) / total)


def detect_periods(
    values: np.ndarray,
    positions: np.ndarray,
    step_seconds: float,
    max_periods: int = 3,
    max_harmonic: int = NEAR_HARMONIC_MAX,
) -> tuple[list[float], list[str]]:
    """Periods (in steps) worth modelling, strongest first, and notes on those dropped.

    Candidates are the calendar periods (daily, weekly) and the periodogram's
    peaks; a period is kept when the series holds ``MIN_CYCLES`` cycles of it
    and three harmonics of it, added to the periods already kept, explain a further
    ``MIN_SHARE`` of the (detrended) series' whole variance.  (Measured against the
    variance the kept periods leave instead, a year of daily US births would pass:
    its yearly wave adds 2.7 % of the whole, 18 % of what the week leaves; admitted,
    it took 105 harmonics and still forecast worse than seasonal naive, so the bar
    stays on the whole.)
    """
    n = len(values)
    notes: list[str] = []
    calendar = calendar_periods(step_seconds)
    candidates: list[float] = list(calendar)
    for p in periodogram_periods(values):
        # a peak near a calendar period, or near one of its harmonics (e.g. the
        # 42-step sideband of a daily pattern modulated by the week at 30 min),
        # is already carried by that period's Fourier terms; "near" is within 3 % or
        # within one periodogram bin (1/n in frequency: 7 +- 0.56 steps on 88 days)
        if any(abs(p - c) / c < 0.03 or abs(1 / p - 1 / c) <= 1 / n for c in candidates) or any(
            _near_harmonic(p, c, max_harmonic) for c in calendar if n >= MIN_CYCLES * c
        ):
            continue
        candidates.append(p)
    longest_calendar = max((p for p in calendar if n >= MIN_CYCLES * p), default=0.0)
    trend_free = detrend(values, int(2 * max(longest_calendar, n / MIN_FOUND_CYCLES)) + 1)
    usable = []
    for p in candidates:
        if p not in calendar and (
            n < MIN_FOUND_CYCLES * p
            # and beyond white noise's 95 % band, which is wider than the bar below 62 points
            or _acf(trend_free, int(round(p))) < max(MIN_FOUND_ACF, 1.96 / np.sqrt(n))
        ):
            continue
        if n < MIN_CYCLES * p:
            if p in calendar:
                label = "daily" if abs(p * step_seconds - DAY_SECONDS) < 1 else "weekly"
                notes.append(
                    f"series too short for the {label} season ({n} points < "
                    f"{MIN_CYCLES:g} x {p:g}); fitted without it"
                )
            continue
        usable.append(p)
    kept: list[float] = []
    longest = max(usable, default=0.0)
    target = detrend(values, int(2 * longest) + 1) if usable else values
    daily = next((c for c in calendar if abs(c * step_seconds - DAY_SECONDS) < 1), None)
    for _ in range(max_periods):
        base = fourier_matrix(positions, tuple(Season(p, 3) for p in kept))
        base_share = _share_explained(target, base)
        best, best_gain = None, 0.0
        for p in usable:
            if p in kept or any(_is_multiple(p, k) for k in kept):
                continue
            design = np.column_stack([base, fourier_matrix(positions, (Season(p, 3),))])
            gain = _share_explained(target, design) - base_share
            if daily in kept and p != daily and p in calendar:
                gain = max(gain, _week_shape_gain(target, positions, base, base_share, p, daily))
            if gain > best_gain:
                best, best_gain = p, gain
        if best is None or best_gain < MIN_SHARE:
            break
        kept.append(best)
    return kept, notes


def _week_shape_gain(target: np.ndarray, positions: np.ndarray, base: np.ndarray,
                     base_share: float, week: float, day: float) -> float:
    """The weekly season's gain with the harmonics that carry a daily shape changing
    over the week (weekends unlike weekdays: the daily harmonics 1-3 modulated by the
    weekly 1-3, i.e. weekly harmonics up to ``3 x days + 3``), less what as many
    columns of noise would explain (columns / points of the variance left).

    Three weekly harmonics see only a weekly level; commuter load (hourly traffic,
    bike rentals) differs in its daily shape, and the level alone adds 0.4-1.5 % of
    the variance there, under ``MIN_SHARE``, while the shape adds 9-10 %."""
    harmonics = min(3 * int(round(week / day)) + 3, harmonic_limit(week, MAX_HARMONICS))
    design = np.column_stack([base, fourier_matrix(positions, (Season(week, harmonics),))])
    chance = 2 * harmonics / len(target) * (1.0 - base_share)
    return _share_explained(target, design) - base_share - chance


def _acf(x: np.ndarray, lag: int) -> float:
    x = x - x.mean()
    denom = float(np.dot(x, x))
    if denom <= 0 or lag >= len(x) or lag < 1:
        return 0.0
    return float(np.dot(x[lag:], x[:-lag]) / denom)


def _near_harmonic(p: float, period: float, max_harmonic: int) -> bool:
    """True when ``p`` is within 2 % of ``period / k`` for some k in 2..max_harmonic."""
    ratio = period / p
    k = round(ratio)
    return 2 <= k <= max_harmonic and abs(ratio - k) / k < 0.02


def _is_multiple(p: float, kept: float) -> bool:
    """True when ``p`` is a harmonic of ``kept`` (already covered by its terms)."""
    ratio = kept / p
    return 2 <= round(ratio) <= 3 and abs(ratio - round(ratio)) < 0.05


def fit_fourier(
    z: np.ndarray, positions: np.ndarray, periods: list[float], d: int, max_harmonics: int
) -> tuple[tuple[Season, ...], np.ndarray, np.ndarray]:
    """Harmonics per season by AICc, then the coefficients and the fitted regression.

    Harmonics are chosen on the levels with the slow trend removed (a moving
    average one longest period wide): differencing would drown the seasonal
    shape in noise and pick too few.  Every count from 1 to the season's limit
    (``max_harmonics``, and below the Nyquist limit of half the period) is
    scored, one season at a time with the others held: a smooth daily wave
    needs a few, a schedule-driven one (departures on the hour and half hour,
    batch jobs) needs a hundred, and ten cannot draw it.  The coefficients are
    then estimated as the ARIMA errors need them: on differences when
    ``d == 1`` (regression with ARIMA(p,1,q) errors), otherwise on levels with
    an intercept.  The fitted regression (the design times the coefficients)
    comes back too, so a long file's design is built once.  (Scoring the
    counts on series and regressors prewhitened by
    the residuals' lag-1 autocorrelation was tried: it chose more harmonics on
    nyc_taxi and fewer on World Cup and forecast both slightly worse.  So was a
    penalty scaled by (1 + rho) / (1 - rho) for the autocorrelated residuals: fewer
    harmonics everywhere, and backtest MASE at 20 origins went 0.355 -> 0.533 on
    nyc_taxi (h=4) and 0.192 -> 0.232 on World Cup (h=12), 0.779 -> 0.769 on the
    flights.)  A season seen in fewer than ``FEW_CYCLES`` cycles keeps only the
    harmonics that forecast a held-out half period (``holdout_harmonics``).
    """
    if not periods:
        coef = np.array([z.mean()]) if d == 0 else np.empty(0)
        return (), coef, np.full(len(z), coef[0] if d == 0 else 0.0)
    detrended = detrend(z, int(max(periods)) + 1)
    intercept = np.ones((len(z), 1))
    # the counts are chosen on the most recent HARMONIC_CHOICE_POINTS (a long file's
    # full design is tens of thousands of rows by hundreds of columns); the
    # coefficients are then estimated on all of it
    recent = slice(-HARMONIC_CHOICE_POINTS, None)
    seasons = _choose_harmonics(detrended[recent], positions[recent], periods, max_harmonics)
    final = tuple(seasons)
    x = fourier_matrix(positions, final)
    if d:
        coef = solve_least_squares(np.diff(x, axis=0), np.diff(z))
        return final, coef, x @ coef
    coef = solve_least_squares(np.column_stack([intercept, x]), z)
    return final, coef, coef[0] + x @ coef[1:]


def _choose_harmonics(
    target: np.ndarray, positions: np.ndarray, periods: list[float], max_harmonics: int
) -> list[Season]:
    """One pass over the seasons (strongest first), each scored with the others held."""
    intercept = np.ones((len(target), 1))
    seasons = [Season(p, 1) for p in periods]
    for i, season in enumerate(seasons):
        others = tuple(seasons[:i] + seasons[i + 1 :])
        base = np.column_stack([intercept, fourier_matrix(positions, others)])
        count = best_harmonics(target, positions, base, season.period, max_harmonics)
        if len(target) < FEW_CYCLES * season.period and count > 1:
            count = holdout_harmonics(target, positions, base, season.period, count)
        seasons[i] = Season(season.period, count)
    return seasons


def holdout_harmonics(target: np.ndarray, positions: np.ndarray, base: np.ndarray,
                      period: float, most: int) -> int:
    """The harmonic count, at most ``most``, whose fit on all but the last half period
    (a fifth of the points at most) forecasts that half period best.

    AICc takes the residuals for independent draws.  They are not (load wanders for
    hours around its seasonal shape), and a season seen in few cycles pays for it: its
    coefficients rest on two or three repetitions of that wandering, so AICc keeps
    harmonics that draw one week's detours as the week's shape.  NASA-HTTP's 5-minute
    requests, fit windows of under three weeks: 79-104 weekly harmonics, and the
    backtest's MASE 0.82 of naive's (July) and 0.91 (August).  Held out, the shape has
    to repeat to count.  Tried counts are ``HOLDOUT_COUNTS`` below ``most`` and ``most``
    itself; ties go to the fewer.  (A penalty for the residuals' autocorrelation on
    every season, tried before, cut harmonics where many cycles show they repeat:
    ``fit_fourier``.)
    """
    n = len(target)
    cut = n - int(min(period / 2, n / 5))
    design = np.column_stack([base, fourier_matrix(positions, (Season(period, most),))])
    best, best_mse = most, np.inf
    for count in [c for c in HOLDOUT_COUNTS if c < most] + [most]:
        columns = base.shape[1] + 2 * count
        coef, *_ = np.linalg.lstsq(design[:cut, :columns], target[:cut], rcond=None)
        mse = float(np.mean((target[cut:] - design[cut:, :columns] @ coef) ** 2))
        if mse < best_mse:
            best, best_mse = count, mse
    return best


def harmonic_limit(period: float, max_harmonics: int) -> int:
    """The most harmonics a season of ``period`` steps can have (below Nyquist)."""
    return max(1, min(max_harmonics, int(np.ceil(period / 2)) - 1))


def best_harmonics(
    target: np.ndarray,
    positions: np.ndarray,
    base: np.ndarray,
    period: float,
    max_harmonics: int,
) -> int:
    """The harmonic count (1..limit) of ``period`` with the lowest AICc over ``base``.

    One QR decomposition of ``[base, sin 1, cos 1, sin 2, cos 2, ...]`` gives the
    residual sum of squares of every nested model at once: each orthonormal
    column of Q takes ``(q . y)^2`` off it.  A column that adds nothing new (a
    weekly harmonic that is a daily one: the 7th of 2016 steps is the 1st of
    288) has a vanishing diagonal in R; it neither lowers the RSS nor counts as
    a parameter.
    """
    top = harmonic_limit(period, max_harmonics)
    design = np.column_stack([base, fourier_matrix(positions, (Season(period, top),))])
    q, r = np.linalg.qr(design)
    diag = np.abs(np.diag(r))
    independent = diag > HARMONIC_RANK_TOL * max(float(diag.max()), 1e-300)
    gains = np.where(independent, (q.T @ target) ** 2, 0.0)
    n, b = len(target), base.shape[1]
    total = float(target @ target)
    counts = np.arange(1, top + 1)
    rss = total - np.cumsum(gains)[b - 1 + 2 * counts]
    params = np.cumsum(independent)[b - 1 + 2 * counts].astype(float)
    rss = np.maximum(rss, 1e-300 * max(total, 1.0))
    aicc = n * np.log(rss / n) + 2 * params * n / np.maximum(n - params - 1, 1)
    return int(counts[int(np.argmin(aicc))])
