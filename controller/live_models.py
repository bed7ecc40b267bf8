"""The forecaster and the detector as the live loop needs them.

The models themselves are offline estimators (``fit``/``forecast``/``update``,
``fit``/``step``); running them inside a control loop needs a little more:
a load series on a regular tick grid, a first fit once there is enough history
(until then the loop is reactive-only and says why), a cheap ``update`` every
tick, a full refit on a schedule on a background thread so ticks are never
delayed, and for the detector a shipped default model plus periodic retraining
on the live fleet's unflagged windows.  Both keepers are thread-safe and never
raise into the tick: a model failure degrades to "no forecast" / "no anomalies"
with a reason.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from controller.config import Settings
from detector.types import Anomaly, FleetAnomaly
from forecaster.types import Forecast

log = logging.getLogger(__name__)
AUTO_SEASON_MIN_POINTS = 500
IDLE_RPS = 0.5
# a forecast whose model last saw load more than this many steps before now is stale (a
# tick may run a step late; after a restart the model holds the history before it)
STALE_STEPS = 3


def grid_time(now: datetime, step_seconds: float) -> datetime:
    """``now`` floored to the tick grid, so the load series is regular."""
    ts = now.timestamp()
    return datetime.fromtimestamp(math.floor(ts / step_seconds) * step_seconds, tz=UTC)


def _naive_index(stamps: Iterable[datetime]) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([s.astimezone(UTC).replace(tzinfo=None) for s in stamps])


class ForecastKeeper:
    """History on a tick grid + a LoadForecaster that is fitted, updated and refitted."""

    def __init__(
        self,
        step_seconds: float,
        *,
        min_points: int = 20,
        refit_seconds: float = 300.0,
        history_points: int = 2000,
        model_path: Path | None = None,
        seasonal_periods: str | tuple[float, ...] = "auto",
        background: bool = True,
    ) -> None:
        self.step_seconds = step_seconds
        self.min_points = min_points
        self.refit_every = timedelta(seconds=refit_seconds)
        self.history_points = history_points
        self.model_path = model_path
        self.seasonal_periods = seasonal_periods
        self.background = background
        self.history: deque[tuple[datetime, float]] = deque(maxlen=history_points)
        self.model: Any = None
        self.reason: str | None = f"waiting for {min_points} load points to fit a model"
        self.fitted_at: datetime | None = None
        self._lock = threading.Lock()
        self._fitting: threading.Thread | None = None
        self._last_issued: Any = None
        self._reported_reason: str | None = None
        self._pending: list[tuple[datetime, float]] = []  # points added while a fit runs
        self._fit_points = 0
        self._refused: str | None = None  # why the configured model was not used
        if model_path is not None:
            self._load(model_path)
            if self.model is None:
                self._refused = self.reason

    @classmethod
    def from_settings(cls, settings: Settings) -> ForecastKeeper:
        c = settings.controller
        periods: str | tuple[float, ...] = (
            (float(c.forecast_season_steps),) if c.forecast_season_steps else "auto"
        )
        return cls(
            c.tick_seconds,
            min_points=c.forecast_min_points,
            refit_seconds=c.forecast_refit_seconds,
            history_points=c.forecast_history_points,
            model_path=c.forecast_model_path,
            seasonal_periods=periods,
        )

    def _new_model(self, n_points: int) -> Any:
        from forecaster.model import LoadForecaster

        return LoadForecaster(
            max_history=self.history_points,
            seasonal_periods=self.periods_for(n_points),
        )

    def periods_for(self, n_points: int) -> str | tuple[float, ...]:
        """Seasons only when the history can show them: two full configured seasons, or
        AUTO_SEASON_MIN_POINTS for automatic detection.  A short history (minutes of a fresh
        ``fleetcast up``) gets a non-seasonal ARIMA rather than seasons fitted to noise."""
        if isinstance(self.seasonal_periods, str):
            return self.seasonal_periods if n_points >= AUTO_SEASON_MIN_POINTS else ()
        return tuple(p for p in self.seasonal_periods if n_points >= 2 * p)

    def _load(self, path: Path) -> None:
        from forecaster.model import LoadForecaster

        try:
            model = LoadForecaster.load(path)
        except (OSError, ValueError) as exc:
            self.reason = f"cannot load forecaster model {path}: {exc}"
            log.warning(self.reason)
            return
        if pd.Timestamp(model.last_timestamp_).tzinfo is not None:
            # the loop's clock is naive UTC; a model on a zone's clock cannot take its
            # points (``fleetcast train forecaster`` fits on naive UTC since 8c683a8)
            self.reason = (f"cannot use forecaster model {path}: it was fitted on "
                           f"timestamps with a time zone ({model.last_timestamp_}); retrain "
                           "it with this version's `fleetcast train forecaster`, which fits "
                           "on UTC")
            log.warning(self.reason)
            return
        if model.business_days_ or abs(float(model.step_) - self.step_seconds) > 1e-6:
            # its updates would be refused at every tick, and the refit it fell back on
            # would throw the trained model away
            step = "business days" if model.business_days_ else f"{model.step_:g} s steps"
            self.reason = (f"cannot use forecaster model {path}: it was fitted on {step}, the "
                           f"loop forecasts its load at {self.step_seconds:g} s ticks; train "
                           f"it on the loop's load with --freq {self.step_seconds:g}s")
            log.warning(self.reason)
            return
        self.model = model
        self.reason = None
        self.fitted_at = datetime.now(UTC)
        log.info("loaded forecaster %s from %s", self.model.describe(), path)

    # -- feeding -----------------------------------------------------------------------------

    def seed(self, points: Iterable[tuple[datetime, float]], *, fit_now: bool = False) -> None:
        """Start from stored (or pretraining) history; fit if there is enough of it."""
        for at, value in points:
            self._append(grid_time(at, self.step_seconds), value)
        if self.model is not None:
            self._catch_up_model()
        elif len(self.history) >= self.min_points:
            self._start_fit(datetime.now(UTC), wait=fit_now or not self.background)

    def _append(self, at: datetime, value: float) -> bool:
        if self.history and at <= self.history[-1][0]:
            if at == self.history[-1][0]:
                self.history[-1] = (at, value)  # two ticks in one slot: keep the latest
            return False
        self.history.append((at, float(value)))
        return True

    def add(self, now: datetime, value: float) -> None:
        at = grid_time(now, self.step_seconds)
        with self._lock:
            if not self._append(at, value):
                return
            if self._fitting is not None and self._fitting.is_alive():
                self._pending.append((at, value))
                return
        if self.model is None:
            n = len(self._contiguous())
            if n >= self.min_points:
                self._start_fit(now)
            else:
                self.reason = (
                    f"{n} of {self.min_points} load points needed to fit the first model "
                    f"(step {self.step_seconds:g}s); running reactive-only"
                    + (f" ({self._refused})" if self._refused else "")
                )
            return
        self._catch_up_model()
        # A model fitted on a short history is refitted as soon as the history has grown
        # by half (it may now afford a trend or a season), then on the regular schedule.
        grown = len(self.history) >= 1.5 * self._fit_points and self._fit_points < 1000
        due = self.fitted_at is not None and now - self.fitted_at >= self.refit_every
        if grown or due:
            self._start_fit(now)

    def _catch_up_model(self) -> None:
        """Feed the model the points after its last observation (update, no refit)."""
        model = self.model
        if model is None:
            return
        last = pd.Timestamp(model.last_timestamp_)
        new = [(t, v) for t, v in self.history if pd.Timestamp(t.replace(tzinfo=None)) > last]
        if not new:
            return
        series = pd.Series([v for _, v in new], index=_naive_index(t for t, _ in new))
        try:
            with self._lock:
                model.update(series)
        except Exception as exc:  # noqa: BLE001 - a gap too long to bridge: refit on what we have
            n = len(self._contiguous())
            if n >= self.min_points:
                log.info("forecaster update failed (%s); refitting", exc)
                self._start_fit(datetime.now(UTC))
                return
            # Too little history since the gap to refit: a model stuck before the gap would
            # forecast steps already past, so drop it and run reactive-only until a refit.
            seen = last if last.tzinfo else last.tz_localize(UTC)
            with self._lock:
                self.model = None
                self.reason = (
                    f"the load history has a gap after {seen.isoformat()} the model cannot "
                    "bridge; "
                    f"{n} of {self.min_points} load points since it needed to refit "
                    f"(step {self.step_seconds:g}s); running reactive-only"
                )
            log.info("forecaster update failed (%s); %s", exc, self.reason)

    def _contiguous(self) -> list[tuple[datetime, float]]:
        """The most recent run of history without gaps longer than a few steps."""
        points = list(self.history)
        max_gap = timedelta(seconds=self.step_seconds * 10)
        start = 0
        for i in range(1, len(points)):
            if points[i][0] - points[i - 1][0] > max_gap:
                start = i
        points = points[start:]
        # Leading idle points (the fleet was up before traffic arrived) would make the
        # first fits see a jump from zero as the series' volatility.
        first_busy = next((i for i, (_, v) in enumerate(points) if v >= IDLE_RPS), len(points))
        return points[first_busy:] if first_busy < len(points) else points

    # -- fitting -----------------------------------------------------------------------------

    def _start_fit(self, now: datetime, *, wait: bool = False) -> None:
        if self._fitting is not None and self._fitting.is_alive():
            return
        points = self._contiguous()
        if len(points) < self.min_points:
            return
        series = pd.Series([v for _, v in points], index=_naive_index(t for t, _ in points))
        self.fitted_at = now  # also throttles retries after a failed fit
        self._fit_points = len(series)
        self._fitting = threading.Thread(
            target=self._fit, args=(series,), name="forecaster-fit", daemon=True
        )
        self._fitting.start()
        if wait or not self.background:
            self._fitting.join()

    def _fit(self, series: pd.Series) -> None:
        try:
            model = self._new_model(len(series)).fit(series)
        except Exception as exc:  # noqa: BLE001
            log.warning("forecaster fit on %d points failed: %s", len(series), exc)
            if self.model is None:
                self.reason = f"forecaster fit failed: {exc}"
            return
        with self._lock:
            self.model = model
            self.reason = None
            pending, self._pending = self._pending, []
        log.info("forecaster fitted on %d points: %s", len(series), model.describe())
        if pending:
            self._catch_up_model()

    def wait_for_fit(self, timeout: float | None = None) -> None:
        if self._fitting is not None:
            self._fitting.join(timeout)

    def close(self) -> None:
        self.wait_for_fit(timeout=5.0)

    # -- forecasting -------------------------------------------------------------------------

    def forecast(self, horizon: int) -> Forecast | None:
        model = self.model
        if model is None:
            return None
        try:
            with self._lock:
                return model.forecast(horizon)
        except Exception as exc:  # noqa: BLE001
            self.reason = f"forecast failed: {exc}"
            return None

    def stale_reason(self, forecast: Forecast, now: datetime) -> str | None:
        """Why ``forecast`` no longer describes the load ahead of ``now``, or None: its
        model has seen no load for more than ``STALE_STEPS`` steps (just after a
        restart it holds only the history stored before it, until the first tick)."""
        step = timedelta(seconds=self.step_seconds)
        seen = pd.Timestamp(forecast.timestamps[0]).to_pydatetime().replace(tzinfo=UTC) - step
        behind = grid_time(now, self.step_seconds) - seen
        if behind <= STALE_STEPS * step:
            return None
        return (f"the forecaster has seen no load since {seen.isoformat()} "
                f"({behind.total_seconds():.0f} s ago); the next tick brings it up to date")

    def issued_new(self, forecast: Forecast) -> bool:
        """True once per new forecast origin (so the store keeps one forecast per step)."""
        origin = forecast.timestamps[0]
        if origin == self._last_issued:
            return False
        self._last_issued = origin
        return True

    def should_report_reason(self) -> bool:
        """Report 'reactive only' in the decisions when the reason changes (not every tick)."""
        key = re.sub(r"[0-9.]+", "#", self.reason) if self.reason else None
        if key == self._reported_reason:
            return False
        self._reported_reason = key
        return True

    @property
    def model_name(self) -> str | None:
        model = self.model
        return None if model is None else str(model.describe())


@dataclass(frozen=True)
class DetectionResult:
    scores: Mapping[str, float] = field(default_factory=dict)
    anomalies: tuple[Anomaly, ...] = ()
    fleet: FleetAnomaly | None = None
    flagged: Mapping[str, bool] = field(default_factory=dict)


class DetectorKeeper:
    """The NodeDetector in the loop: default or configured model, online steps, retraining."""

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        retrain_seconds: float = 1800.0,
        min_windows: int = 200,
        max_ejection_percent: float = 10.0,
        confirm_windows: int | None = None,
        confirm_out_of: int | None = None,
    ) -> None:
        self.model_path = model_path
        self.confirm = (confirm_windows, confirm_out_of)
        self.retrain_every = timedelta(seconds=retrain_seconds)
        self.min_windows = min_windows
        self.max_ejection_percent = max_ejection_percent
        self.healthy: deque[tuple[datetime, str, str, float]] = deque(maxlen=200_000)
        self.healthy_windows = 0
        self.trained_at: datetime | None = None  # set by the first step (time is an input)
        self.reason: str | None = None
        self._lock = threading.Lock()
        self.detector: Any = self._load()

    @classmethod
    def from_settings(cls, settings: Settings) -> DetectorKeeper:
        c = settings.controller
        return cls(
            model_path=c.detector_model_path,
            retrain_seconds=c.detector_retrain_seconds,
            min_windows=c.detector_min_windows,
            max_ejection_percent=settings.recovery.max_ejection_percent,
            confirm_windows=c.detector_confirm_windows,
            confirm_out_of=c.detector_confirm_out_of,
        )

    def _load(self) -> Any:
        try:
            from detector.model import NodeDetector
        except ImportError as exc:
            self.reason = f"detector unavailable: {exc}"
            return None
        try:
            model = (NodeDetector.load(self.model_path) if self.model_path is not None
                     else NodeDetector.default())
            # The fleet guard follows the operator's recovery.max_ejection_percent, the
            # hysteresis the controller's settings (both are the detector's own parameters).
            params: dict[str, Any] = {"max_ejection_percent": self.max_ejection_percent}
            k, n = self.confirm
            if k is not None and n is not None:
                params.update(k=k, n=n)
            return model.set_params(**params)
        except Exception as exc:  # noqa: BLE001
            self.reason = f"cannot load detector model: {exc}"
            log.warning(self.reason)
            return None

    @property
    def min_peers(self) -> int:
        """Nodes the detector needs to compare a node with its peers (its own parameter)."""
        return int(getattr(self.detector, "min_peers", 3) or 1)

    def step(
        self,
        now: datetime,
        windows: Mapping[str, Mapping[str, float]],
        *,
        expected: Iterable[str] | None = None,
    ) -> DetectionResult:
        if self.detector is None or not windows:
            return DetectionResult()  # nothing scraped yet (or the whole fleet is silent)
        if self.trained_at is None:
            self.trained_at = now
        members = sorted(set(expected or ()) | set(windows))
        try:
            with self._lock:
                res = self.detector.step(now, {k: dict(v) for k, v in windows.items()},
                                         members=members)
        except Exception as exc:  # noqa: BLE001 - a detector failure must not stop recovery
            log.warning("detector step failed: %s", exc)
            return DetectionResult()
        anomalous = {a.node for a in res.anomalies}
        if res.fleet is None and not anomalous:
            for node, window in windows.items():
                if not res.flagged.get(node, False):
                    for metric, value in window.items():
                        self.healthy.append((now, node, metric, float(value)))
            self.healthy_windows += 1
        return DetectionResult(
            scores=dict(res.scores), anomalies=tuple(res.anomalies), fleet=res.fleet,
            flagged=dict(res.flagged),
        )

    def maybe_retrain(self, now: datetime) -> bool:
        """Refit on unflagged live windows (scheduled; runs on the housekeeping thread)."""
        if self.detector is None or self.healthy_windows < self.min_windows:
            return False
        if self.trained_at is None or now - self.trained_at < self.retrain_every:
            return False
        frame = pd.DataFrame(list(self.healthy), columns=["timestamp", "node", "metric", "value"])
        try:
            fresh = self.detector.__class__(**self.detector.get_params()).fit(frame)
        except Exception as exc:  # noqa: BLE001
            log.warning("detector retrain failed: %s", exc)
            self.trained_at = now
            return False
        with self._lock:
            self.detector = fresh  # its per-node baselines refill over the next few windows
        self.trained_at = now
        log.info("detector retrained on %d healthy windows", self.healthy_windows)
        return True
