"""Holiday effects for daily load: one regressor per holiday that shows in the data.

Daily load drops (or jumps) on public holidays and the days before some, and
neither the weekly season nor last week's value knows that a Thursday is
Thanksgiving: on US daily births 1994-2003 the five holidays among 240
backtest days carried a fifth of the model's absolute error.  Each public
holiday name that falls inside the fit window, and Christmas and New Year's
Eve, is a candidate 0/1 regressor (days observed in lieu share one "observed"
regressor, and a holiday python-holidays renamed keeps one regressor under
both names, see ``renamed``); they are added greedily,
largest drop in the residual sum of squares first, while BIC with twice its
usual ``log n`` penalty falls, on the residuals the seasons leave (less their
running median).  That penalty lets a one-off day in only when its
residual is 3.4 sd out (at a year of points), so a series without holiday
effects gets none: 1 of 200 white-noise years got one (14 of 200 random
walks, whose running median lags them).  The calendars are
python-holidays' public ones.  Its US unofficial days (Mother's and Father's
Day, Valentine's, Halloween, ...) were candidates at first: Halloween helped
on births, but a weather dip on Father's Day 2018 entered on California
Edison's daily demand and its backtest MASE went 0.570 -> 0.720 (12 days, 8
origins); public holidays and the two eves leave it at 0.570 and keep most of
the births' gain.

Sub-daily steps (1 to 12 hours) get one pooled regressor instead
(``choose_as_sunday``): every public holiday's steps drawn towards a Sunday's
daily shape, as electricity load forecasters treat holidays, since a fit
window of hourly load holds each holiday once at most and seldom the one to
forecast.  Steps under an hour get none: the default 8064-point window is
then 24 weeks or less (4 at 5 minutes) with a few holidays, and at 30 minutes
the regressor moved NAB's nyc_taxi backtest (horizon 4, 20 origins, two of
them on holidays, which it helped) from 0.363 to 0.380 through refits of
the other origins, so it is not offered there.  When the window's holidays
differ in their pull beyond noise (Columbus Day a working day, Independence
Day a Sunday), each gets a pull of its own, shrunk towards the pooled one
(``own_pulls``); a holiday is forecast by it when its last occurrence was
read.  The default 8064 hourly points are 48 weeks, which seldom hold last
year's occurrence of the holiday ahead, so the pulls are read on the fit
window and the points up to ``LOOKBACK_DAYS`` before the last one (the
seasons fitted on the window taken off them too): on CAISO's 2018 load
Columbus Day and Veterans Day are working days, and the pooled pull forecast
them as Sundays (ISO total MASE at 12 hours 0.561 with it, 0.339 without).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache

import holidays as holiday_calendars
import numpy as np
import pandas as pd
from scipy.stats import chi2

from forecaster.seasonality import Season, fourier_matrix, solve_least_squares

OBSERVED = "observed holiday"
# days before holidays that are half days off in much of the world, candidates too
EVES = ((12, 24, "Christmas Eve"), (12, 31, "New Year's Eve"))
# a candidate enters when it lowers BIC by more than this many times log n more:
# BIC's own bar lets a one-off day of pure noise in when its residual passes
# 2.4 sd, and among the 13 US candidates of 2001 50 of 200 white-noise years got
# one; twice the penalty asks 3.4 sd, and 1 of 200 did
EXTRA_PENALTY = 1.0
# renamed holidays (``renamed``): the years read, the largest gap in years between
# the old name's last day and the new one's first, the days their typical dates may
# differ by, and how many of each name's days near the change give that date
RENAME_SPAN = (1970, 2050)
RENAME_GAP = 2
RENAME_DAYS = 7
RENAME_YEARS = 5
# days of the running median that takes the residuals' wandering level off
LEVEL_WINDOW = 15
# sub-daily series (``choose_as_sunday``): the finest step that gets the effect, the
# z-score the holidays' pooled pull towards a Sunday must pass, and the complete
# ordinary days (not Sundays) the spread of that pull under no effect is read from
AS_SUNDAY = "public holidays as Sunday"
MIN_SUBDAILY_STEP = 3600.0
AS_SUNDAY_Z = 3.4
MIN_ORDINARY_DAYS = 20
# holidays' own pulls (``own_pulls``): the chance that holidays which share one pull
# show differences as large as they must, and the fewest distinct holidays to compare
OWN_PULL_P = 0.001
MIN_OWN_HOLIDAYS = 3
# days before the last point the sub-daily pulls are read on, beyond the fit window:
# last year's occurrence of every holiday in the weeks ahead
LOOKBACK_DAYS = 400.0
DAY = 86400.0


@dataclass(frozen=True)
class HolidayEffects:
    """The chosen holidays of one country and their coefficients (transformed scale)."""

    country: str
    names: tuple[str, ...]
    coef: np.ndarray
    # sub-daily steps: a Sunday's seasonal shape less each weekday's, (7, steps a day)
    profile: np.ndarray | None = None

    def describe(self) -> str:
        if self.profile is not None:
            own = len(self.names) - 1
            return f"holidays[{self.country}:as Sunday{f', {own} own' if own else ''}]"
        return f"holidays[{self.country}:{len(self.names)}]"


NO_EFFECTS = HolidayEffects("", (), np.empty(0))


def check_country(country: str) -> str:
    """``country`` (``COUNTRY`` or ``COUNTRY-SUBDIV``, e.g. ``DE-BY``) as python-holidays
    knows it, or ValueError listing a few valid codes."""
    code, dash, subdiv = country.strip().partition("-")
    code = code.strip().upper()
    supported = holiday_calendars.list_supported_countries()
    if code not in supported:
        sample = ", ".join(sorted(c for c in supported if len(c) == 2)[:12])
        raise ValueError(
            f"holidays: unknown country code {country.strip()!r} "
            f"(ISO 3166 alpha-2, e.g. US, GB, DE, or with a subdivision, e.g. DE-BY, "
            f"US-CA; known: {sample}, ...; or 'none')"
        )
    if not dash:
        return code
    subdivs = list(supported[code])
    match = [s for s in subdivs if s.upper() == subdiv.strip().upper()]
    if not match:
        if not subdivs:
            raise ValueError(f"holidays: country {code} has no subdivisions (use {code!r})")
        sample = ", ".join(f"{code}-{s}" for s in subdivs[:8])
        more = ", ..." if len(subdivs) > 8 else ""
        raise ValueError(
            f"holidays: unknown subdivision {subdiv.strip()!r} of {code} "
            f"(known: {sample}{more}; or {code!r} alone)"
        )
    return f"{code}-{match[0]}"


@lru_cache(maxsize=64)
def _first_names(country: str, first_year: int, last_year: int) -> dict[pd.Timestamp, str]:
    """python-holidays' days of ``country``; a day with two holidays ("Christmas Day;
    Christmas Day (observed)") keeps its first name."""
    code, _, subdiv = country.partition("-")
    days = holiday_calendars.country_holidays(
        code, subdiv=subdiv or None, years=range(first_year, last_year + 1)
    )
    return {pd.Timestamp(date): str(name).split(";")[0].strip() for date, name in days.items()}


@lru_cache(maxsize=64)
def _calendar(country: str, first_year: int, last_year: int) -> dict[pd.Timestamp, str]:
    out: dict[pd.Timestamp, str] = {}
    for year in range(first_year, last_year + 1):
        for month, day_of_month, eve in EVES:
            out[pd.Timestamp(year, month, day_of_month)] = eve
    for date, name in _first_names(country, first_year, last_year).items():
        out[date] = OBSERVED if "observed" in name.lower() else name
    return out


@lru_cache(maxsize=64)
def _observed(country: str, first_year: int, last_year: int) -> dict[pd.Timestamp, str]:
    """Days observed in lieu, each with the holiday it stands in for."""
    out: dict[pd.Timestamp, str] = {}
    for date, name in _first_names(country, first_year, last_year).items():
        base = re.sub(r"\s*\(observed[^)]*\)\s*", " ", name, flags=re.IGNORECASE).strip()
        if base != name:
            out[date] = base
    return out


def in_lieu(positions: np.ndarray, step_seconds: float, country: str) -> list[str | None]:
    """``day_names``, with a day observed in lieu named after the holiday it stands in for."""
    labels = day_names(positions, step_seconds, country)
    if OBSERVED not in labels:
        return labels
    seconds = np.round(np.asarray(positions, dtype=float) * step_seconds).astype(np.int64)
    days = pd.to_datetime(seconds, unit="s").normalize()
    calendar = _observed(country, int(days.year.min()), int(days.year.max()))
    return [calendar.get(day, label) if label == OBSERVED else label
            for day, label in zip(days, labels, strict=True)]


@lru_cache(maxsize=64)
def renamed(country: str) -> dict[str, str]:
    """Each holiday name of ``country`` python-holidays renamed, mapped to its newest name.

    Name B continues name A when A's days end where B's begin (no year with both,
    at most ``RENAME_GAP`` years apart) and their typical dates agree: the median
    day of the year of A's last ``RENAME_YEARS`` days and of B's first lie at most
    ``RENAME_DAYS`` apart (JP Physical Education Day -> Sports Day 2020, NZ and
    AU Queen's -> King's Birthday 2023, NL Queen's Day -> King's Day 2014, RU
    Declaration of Sovereignty Day -> Russia Day 2002).  Read over the fixed
    years ``RENAME_SPAN``, so a name maps alike whatever window the data covers.
    """
    code, _, subdiv = country.partition("-")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # calendars starting after 1970 warn about it
        days = holiday_calendars.country_holidays(
            code, subdiv=subdiv or None, years=range(RENAME_SPAN[0], RENAME_SPAN[1] + 1)
        )
    dates: dict[str, list[pd.Timestamp]] = {}
    for date, names in days.items():
        for name in str(names).split(";"):
            name = name.strip()
            if "observed" not in name.lower():
                dates.setdefault(name, []).append(pd.Timestamp(date))
    spans = {
        name: (min(d.year for d in ds), max(d.year for d in ds), sorted(ds))
        for name, ds in dates.items()
        if len(ds) >= 2
    }
    links: list[tuple[float, str, str]] = []
    for old, (_, old_last, old_days) in spans.items():
        for new, (new_first, _, new_days) in spans.items():
            if not 0 < new_first - old_last <= RENAME_GAP:
                continue
            if {d.year for d in old_days} & {d.year for d in new_days}:
                continue
            gap = abs(
                np.median([d.day_of_year for d in old_days[-RENAME_YEARS:]])
                - np.median([d.day_of_year for d in new_days[:RENAME_YEARS]])
            )
            gap = min(gap, 365 - gap)
            if gap <= RENAME_DAYS:
                links.append((gap, old, new))
    successor: dict[str, str] = {}
    taken: set[str] = set()
    for _, old, new in sorted(links):  # closest dates first; one successor each way
        if old not in successor and new not in taken:
            successor[old] = new
            taken.add(new)
    out: dict[str, str] = {}
    for name in successor:
        newest, seen = name, {name}
        while newest in successor and successor[newest] not in seen:
            newest = successor[newest]
            seen.add(newest)
        out[name] = newest
    return out


def same_holiday(country: str, name: str | None) -> str | None:
    """The newest name of ``name`` (itself when never renamed); ``None`` stays ``None``."""
    if name is None or not country:
        return name
    return renamed(country).get(name, name)


def day_names(positions: np.ndarray, step_seconds: float, country: str) -> list[str | None]:
    """The holiday name of each position's calendar day (``None`` on ordinary days)."""
    if len(positions) == 0:
        return []
    seconds = np.round(np.asarray(positions, dtype=float) * step_seconds).astype(np.int64)
    days = pd.to_datetime(seconds, unit="s").normalize()
    calendar = _calendar(country, int(days.year.min()), int(days.year.max()))
    return [calendar.get(day) for day in days]


def holiday_matrix(
    positions: np.ndarray, step_seconds: float, country: str, names: tuple[str, ...]
) -> np.ndarray:
    """0/1 columns, one per name in ``names``, marking the positions on that holiday."""
    return _label_matrix(day_names(positions, step_seconds, country), names, country)


def _label_matrix(labels: list[str | None], names: tuple[str, ...], country: str) -> np.ndarray:
    """0/1 columns, one per name; a day under another name of the same holidays counts."""
    matrix = np.zeros((len(labels), len(names)))
    column = {same_holiday(country, name): j for j, name in enumerate(names)}
    for i, label in enumerate(labels):
        j = column.get(same_holiday(country, label))
        if label is not None and j is not None:
            matrix[i, j] = 1.0
    return matrix


def effects_regression(
    effects: HolidayEffects, positions: np.ndarray, step_seconds: float
) -> np.ndarray:
    """The holidays' share of the transformed series at ``positions``."""
    if not effects.names:
        return np.zeros(len(positions))
    if effects.profile is not None:
        on, weekday, slot, _ = _sub_daily(positions, step_seconds, effects.country)
        pull = np.full(len(positions), float(effects.coef[0]))
        if len(effects.names) > 1:  # holidays with a pull of their own
            # a day observed in lieu is drawn as its holiday (Veterans Day a working day,
            # its Friday in lieu too), though only the holidays' own days estimate the pulls
            labels = in_lieu(positions, step_seconds, effects.country)
            own = _label_matrix(labels, effects.names[1:], effects.country)
            mine = own.any(axis=1)
            pull[mine] = own[mine] @ np.asarray(effects.coef[1:], dtype=float)
        return np.where(on, effects.profile[weekday, slot], 0.0) * pull
    return holiday_matrix(positions, step_seconds, effects.country, effects.names) @ effects.coef


def choose_effects(
    resid: np.ndarray, positions: np.ndarray, step_seconds: float, country: str
) -> HolidayEffects:
    """Greedy BIC choice of holiday regressors on the residuals the seasons leave.

    The residuals' wandering level is taken off first (a centred running median
    ``LEVEL_WINDOW`` days wide, which a one-day holiday does not move): choosing
    on their differences, as a regression with ARIMA(p,1,q) errors is
    estimated, let noise in, since differenced noise is far from independent
    (a pure-noise Halloween in 1 of 10 noise years that the KPSS test had
    called wandering)."""
    labels = day_names(positions, step_seconds, country)
    # one candidate per holiday, under the last name it has in the window
    newest = {same_holiday(country, name): name for name in labels if name is not None}
    candidates = tuple(sorted(newest.values()))
    if not candidates:
        return NO_EFFECTS
    x = _label_matrix(labels, candidates, country)
    target = deviations(resid)
    n = len(target)
    chosen: list[int] = []
    best = _bic(target, x[:, []], n)
    while len(chosen) < len(candidates):
        scores = [
            (_bic(target, x[:, chosen + [j]], n), j)
            for j in range(len(candidates))
            if j not in chosen
        ]
        score, j = min(scores)
        if not score < best - EXTRA_PENALTY * np.log(n):
            break
        chosen.append(j)
        best = score
    if not chosen:
        return NO_EFFECTS
    chosen.sort()
    coef = solve_least_squares(x[:, chosen], target)
    return HolidayEffects(country, tuple(candidates[j] for j in chosen), coef)


def deviations(resid: np.ndarray) -> np.ndarray:
    """``resid`` less its centred running median over ``LEVEL_WINDOW`` points."""
    series = pd.Series(np.asarray(resid, dtype=float))
    level = series.rolling(LEVEL_WINDOW, center=True, min_periods=1).median()
    return (series - level).to_numpy()


def _bic(target: np.ndarray, design: np.ndarray, n: int) -> float:
    if design.shape[1]:
        rss = float(np.sum((target - design @ solve_least_squares(design, target)) ** 2))
    else:
        rss = float(target @ target)
    return n * np.log(max(rss, 1e-300) / n) + design.shape[1] * np.log(n)


def sunday_profile(
    seasons: tuple[Season, ...], coef: np.ndarray, d: int, step_seconds: float
) -> np.ndarray:
    """A Sunday's seasonal shape less each weekday's, (7, steps a day): row 0 Monday.

    From the fitted Fourier seasons (``coef`` with its intercept first when
    ``d == 0``); all zeros without a weekly season, whose days are all alike."""
    per_day = int(round(DAY / step_seconds))
    weights = np.asarray(coef, dtype=float)[1:] if d == 0 else np.asarray(coef, dtype=float)
    if not seasons or weights.size == 0:
        return np.zeros((7, per_day))
    monday = 4 * per_day  # 1970-01-05, in steps since the epoch
    slots = np.arange(per_day, dtype=float)
    sunday = fourier_matrix(monday + 6 * per_day + slots, seasons) @ weights
    return np.array(
        [sunday - fourier_matrix(monday + w * per_day + slots, seasons) @ weights
         for w in range(7)]
    )


def _sub_daily(
    positions: np.ndarray, step_seconds: float, country: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per position: on a public holiday (the eves are not), weekday, step of the day, day."""
    seconds = np.round(np.asarray(positions, dtype=float) * step_seconds).astype(np.int64)
    day = seconds // int(DAY)
    weekday = ((day + 3) % 7).astype(int)  # 1970-01-01 was a Thursday
    slot = ((seconds - day * int(DAY)) // int(round(step_seconds))).astype(int)
    eves = {eve for _, _, eve in EVES}
    on = np.array([n is not None and n not in eves for n in day_names(positions, step_seconds,
                                                                       country)], dtype=bool)
    return on, weekday, slot, day


def choose_as_sunday(
    resid: np.ndarray, positions: np.ndarray, step_seconds: float, country: str,
    profile: np.ndarray,
) -> tuple[HolidayEffects, float]:
    """One pooled regressor for sub-daily steps: public holidays drawn towards a Sunday.

    A single holiday shows up once in a year of hourly data, and the one to
    forecast was seldom in the fit window, so per-holiday regressors would
    forecast nothing; load forecasters treat holidays as Sundays instead.  The
    regressor on every public holiday's steps is ``profile`` (the Sunday's
    seasonal shape less that weekday's), its coefficient ``b`` the least-squares
    pull of the holidays' residuals (less their days' running median) towards
    it: 0 = an ordinary day, 1 = a Sunday.  It enters when ``b`` is
    ``AS_SUNDAY_Z`` times the spread it has on ordinary days: each day's
    ``sum(x r) / sqrt(sum(x x))`` is read on the complete ordinary days (not
    Sundays, where the profile is zero), so the hours' correlation within a day
    is in that spread.  Holidays that differ beyond noise get pulls of their own
    after the pooled one (``own_pulls``: ``names[1:]``, ``coef[1:]``); the others
    keep ``coef[0]``.  Returns the effects and that z-score (0 when untested).
    """
    if not np.any(np.abs(profile) > 0):
        return NO_EFFECTS, 0.0
    on, weekday, slot, day = _sub_daily(positions, step_seconds, country)
    if not on.any():
        return NO_EFFECTS, 0.0
    x = profile[weekday, slot]
    frame = pd.DataFrame({"day": day, "r": np.asarray(resid, dtype=float), "on": on})
    means = frame.groupby("day")["r"].mean()
    level = means.rolling(LEVEL_WINDOW, center=True, min_periods=1).median()
    frame["r"] = frame["r"] - level.reindex(day).to_numpy()
    frame["xr"] = x * frame["r"].to_numpy()
    frame["xx"] = x * x
    days = frame.groupby("day").agg(xr=("xr", "sum"), xx=("xx", "sum"), on=("on", "any"),
                                    n=("r", "size"))
    complete = (days["n"] == profile.shape[1]) & (days["xx"] > 1e-12)
    ordinary = days[complete & ~days["on"]]
    holiday = days[complete & days["on"]]
    if len(ordinary) < MIN_ORDINARY_DAYS or holiday.empty:
        return NO_EFFECTS, 0.0
    spread = float(np.std(ordinary["xr"] / np.sqrt(ordinary["xx"]), ddof=1))
    total = float(holiday["xx"].sum())
    score = float(holiday["xr"].sum()) / (spread * np.sqrt(total)) if spread > 0 else 0.0
    if not abs(score) > AS_SUNDAY_Z:
        return NO_EFFECTS, score
    pooled = float(holiday["xr"].sum()) / total
    labels = day_names(positions, step_seconds, country)
    first = pd.Series(labels, dtype=object).groupby(day).first()
    names, pulls = own_pulls(holiday, first.reindex(holiday.index), pooled, spread, country)
    coef = np.array([pooled, *pulls])
    return HolidayEffects(country, (AS_SUNDAY, *names), coef,
                          np.asarray(profile, dtype=float)), score


def own_pulls(
    holiday: pd.DataFrame, labels: pd.Series, pooled: float, spread: float, country: str
) -> tuple[tuple[str, ...], list[float]]:
    """Each holiday's own pull towards a Sunday, shrunk towards the pooled one.

    ``holiday``: the complete holiday days' ``xr`` and ``xx`` sums; ``labels``
    their holiday names.  A holiday's raw pull is ``sum(xr) / sum(xx)`` over its
    days, with variance ``spread**2 / sum(xx)``; the pulls' spread beyond that
    noise, ``tau**2``, is DerSimonian and Laird's moment estimate, and each
    holiday's pull is ``pooled + tau**2 / (tau**2 + var) * (raw - pooled)`` (an
    empirical-Bayes mean).  They get pulls of their own only when the holidays
    differ beyond noise (``OWN_PULL_P``, the chi-square test of their Q); days
    observed in lieu do not count here but are drawn by their holiday's pull
    (``effects_regression``); holidays not read keep the pooled pull.
    """
    keep = [lab is not None and lab != OBSERVED for lab in labels]
    days = holiday[np.asarray(keep, dtype=bool)].copy()
    if days.empty or spread <= 0:
        return (), []
    days["name"] = [same_holiday(country, lab) for lab in labels[np.asarray(keep, dtype=bool)]]
    groups = days.groupby("name").agg(xr=("xr", "sum"), xx=("xx", "sum"))
    if len(groups) < MIN_OWN_HOLIDAYS:
        return (), []
    raw = (groups["xr"] / groups["xx"]).to_numpy()
    var = spread**2 / groups["xx"].to_numpy()
    w = 1.0 / var
    q = float(np.sum(w * (raw - pooled) ** 2))
    k = len(groups)
    if not q > chi2.ppf(1.0 - OWN_PULL_P, k - 1):
        return (), []
    tau2 = max(0.0, (q - (k - 1)) / (w.sum() - np.sum(w**2) / w.sum()))
    shrunk = pooled + tau2 / (tau2 + var) * (raw - pooled)
    # under the newest name in the window, as the daily regressors are
    newest = {same_holiday(country, lab): lab for lab in labels if lab is not None}
    return tuple(newest[n] for n in groups.index), [float(b) for b in shrunk]
