"""One validated ``Settings`` object for ``fleetcast up`` and ``fleetcast demo``.

Operators configure fleetcast with one TOML file (``--config F``) and/or
``FLEETCAST_<SECTION>_<KEY>`` environment variables; defaults alone run a small
local fleet.  Everything is checked before anything starts: an unknown key, a bad
value or a TOML syntax error stops start-up with a message naming the key (or the
file and line), never with a traceback half-way through launching nodes.
Precedence: explicit overrides > environment > TOML file > defaults.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from controller.budget import DEFAULT_BUDGET, DEFAULT_MAX_HEADROOM
from controller.margin import DEFAULT_CEILING, DEFAULT_CEILING_SECONDS, DEFAULT_MAX_FACTOR

ENV_PREFIX = "FLEETCAST_"
Strategy = Literal["round_robin", "random", "weighted_round_robin", "least_request", "peak_ewma"]


class ConfigError(ValueError):
    """A configuration problem, phrased for the operator (names the key or file:line)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PoolSettings(_Section):
    # Three by default: the detector localizes a fault by comparing a node with its peers,
    # and with two nodes a slow one and the peer absorbing its traffic look alike.
    initial_nodes: int = Field(default=3, ge=0, le=256)
    min_nodes: int = Field(default=3, ge=1, le=256)
    max_nodes: int = Field(default=10, ge=1, le=256)
    node_base_port: int = Field(default=8101, ge=1024, le=65000)
    backend: Literal["local"] = "local"
    host: str = "127.0.0.1"


class BalancerSettings(_Section):
    port: int = Field(default=8000, ge=1024, le=65535)
    strategy: Strategy = "least_request"
    host: str = "127.0.0.1"


class ApiSettings(_Section):
    port: int = Field(default=8080, ge=1024, le=65535)
    host: str = "127.0.0.1"


class ControllerSettings(_Section):
    tick_seconds: float = Field(default=15.0, gt=0, le=3600)
    node_capacity_rps: float = Field(default=50.0, gt=0)
    target_utilization: float = Field(default=0.7, gt=0, le=1)
    startup_seconds: float = Field(default=20.0, ge=0)
    scale_in_stabilization_seconds: float = Field(default=300.0, ge=0)
    forecast_quantile: float = Field(default=0.95, gt=0.5, lt=1)
    # The forecast quantile adapts so node-time stays near this multiple of the
    # hindsight minimum (controller/budget.py); 0 = fixed forecast_quantile.
    capacity_budget: float = Field(default=DEFAULT_BUDGET, ge=0)
    # Past the 0.995 quantile ceiling the budget may divide the reactive floor's target
    # utilization, then multiply the forecast, each by up to this (default 2; 1 = off;
    # controller/budget.py says what 2 bought in the simulator).
    capacity_headroom: float = Field(default=DEFAULT_MAX_HEADROOM, ge=1, le=10)
    # After a tick whose load came in above the forecast's 80 % quantile, the forecast is
    # multiplied by that load over its median, up to this (1 = off; controller/margin.py
    # says what 1.3 bought in the simulator).
    forecast_carry: float = Field(default=DEFAULT_MAX_FACTOR, ge=1, le=3)
    # The forecast (after the carry, before the budget's headroom) is sized for at most this
    # multiple of the highest load of the last forecast_ceiling_seconds, once the loads seen
    # span that long: a forecast thrown off by a data dropout cannot launch a fleet no recent
    # load needed; the reactive floor still meets real surprises (0 = off; controller/margin.py).
    forecast_ceiling: float = Field(default=DEFAULT_CEILING, ge=0, le=10)
    forecast_ceiling_seconds: float = Field(default=DEFAULT_CEILING_SECONDS, gt=0)
    # Forecasting: the load step is one tick.  A seasonal model needs two seasons
    # of history; before that a non-seasonal ARIMA is fitted once this many points exist.
    forecast_min_points: int = Field(default=20, ge=8)
    forecast_season_steps: int | None = Field(default=None, ge=2)
    forecast_refit_seconds: float = Field(default=300.0, gt=0)
    forecast_history_points: int = Field(default=2000, ge=50)
    forecast_model_path: Path | None = None
    # Detection: shipped default model unless a path is given; retrained on the
    # live fleet's unflagged windows once enough are collected.
    detector_model_path: Path | None = None
    detector_retrain_seconds: float = Field(default=1800.0, gt=0)
    detector_min_windows: int = Field(default=200, ge=10)
    # Hysteresis: a node is anomalous after `confirm` flagged windows out of the last
    # `window` (3 of 4 at a 2 s tick costs ~2 s of detection and removes most one-off flags).
    detector_confirm_windows: int = Field(default=3, ge=1, le=20)
    detector_confirm_out_of: int = Field(default=4, ge=1, le=20)
    scrape_timeout_seconds: float = Field(default=1.0, gt=0, le=30)
    metrics_retention_seconds: float = Field(default=86400.0, gt=0)
    launch_retry_base_seconds: float = Field(default=2.0, gt=0)
    launch_retry_max_seconds: float = Field(default=60.0, gt=0)

    @field_validator("forecast_model_path", "detector_model_path")
    @classmethod
    def _an_existing_file(cls, value: Path | None) -> Path | None:
        # a typo here would otherwise start the loop without the model (the detector's:
        # with no fault detection at all), said only in a log line
        if value is not None and not value.is_file():
            raise ValueError("a directory, not a model file" if value.is_dir() else "no such file")
        return value

    @field_validator("forecast_ceiling", "capacity_budget")
    @classmethod
    def _zero_or_a_multiple(cls, value: float, info: ValidationInfo) -> float:
        if 0 < value < 1:
            of = {"forecast_ceiling": "the recent peak load",
                  "capacity_budget": "the minimum node-time"}[str(info.field_name)]
            raise ValueError(f"must be 0 (off) or a multiple >= 1 of {of}")
        return value


class RecoverySettings(_Section):
    max_ejection_percent: float = Field(default=10.0, gt=0, le=100)
    drain_timeout_seconds: float = Field(default=30.0, ge=0)
    cooldown_seconds: float = Field(default=300.0, ge=0)
    prevention_horizon_seconds: float = Field(default=300.0, ge=0)


class SecuritySettings(_Section):
    admin_token: str | None = Field(default=None, min_length=8)
    fault_injection: bool = False


class StorageSettings(_Section):
    database_url: str | None = None


SECTIONS: dict[str, type[_Section]] = {
    "pool": PoolSettings,
    "balancer": BalancerSettings,
    "api": ApiSettings,
    "controller": ControllerSettings,
    "recovery": RecoverySettings,
    "security": SecuritySettings,
    "storage": StorageSettings,
}


class _EnvSource(PydanticBaseSettingsSource):
    """``FLEETCAST_<SECTION>_<KEY>``; only known keys are read (other FLEETCAST_* vars are
    left alone: tests and tools use some)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.environ = environ

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        env = {k.upper(): v for k, v in self.environ.items()}
        out: dict[str, Any] = {}
        if f"{ENV_PREFIX}DATA_DIR" in env:
            out["data_dir"] = env[f"{ENV_PREFIX}DATA_DIR"]
        for section, model in SECTIONS.items():
            for key in model.model_fields:
                name = f"{ENV_PREFIX}{section}_{key}".upper()
                if name in env:
                    out.setdefault(section, {})[key] = env[name]
        if f"{ENV_PREFIX}DATABASE_URL" in env and "database_url" not in out.get("storage", {}):
            out.setdefault("storage", {})["database_url"] = env[f"{ENV_PREFIX}DATABASE_URL"]
        return out


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid", validate_assignment=True)

    data_dir: Path = Path("./var")
    pool: PoolSettings = Field(default_factory=PoolSettings)
    balancer: BalancerSettings = Field(default_factory=BalancerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    controller: ControllerSettings = Field(default_factory=ControllerSettings)
    recovery: RecoverySettings = Field(default_factory=RecoverySettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings merges file and environment itself (so it can name the
        # file in errors); the init kwargs are the merged result.
        return (init_settings,)

    @property
    def database_url(self) -> str:
        if self.storage.database_url:
            return self.storage.database_url
        return f"sqlite:///{(self.data_dir / 'fleetcast.db').resolve()}"

    def node_url(self, port: int) -> str:
        return f"http://{self.pool.host}:{port}"

    @property
    def balancer_url(self) -> str:
        return f"http://{self.balancer.host}:{self.balancer.port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.api.host}:{self.api.port}"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc})") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The message already carries "(at line L, column C)".
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _describe(err: Mapping[str, Any]) -> str:
    key = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        section = err["loc"][0] if len(err["loc"]) > 1 else None
        known = sorted(SECTIONS[section].model_fields) if section in SECTIONS else sorted(
            ["data_dir", *SECTIONS]
        )
        return f"{key}: unknown key (known: {', '.join(known)})"
    value = err.get("input")
    shown = "" if isinstance(value, Mapping) else f" (got {value!r})"
    return f"{key}: {err['msg']}{shown}"


def _confirm_invalid(s: Settings) -> bool:
    return s.controller.detector_confirm_windows > s.controller.detector_confirm_out_of


def node_port_span(max_nodes: int) -> int:
    """Ports from ``pool.node_base_port`` kept for nodes: live, draining and replacing ones
    (the local pool takes the lowest free port from the base); nothing else may use them."""
    return 4 * max_nodes + 8


def _cross_checks(s: Settings) -> list[str]:
    problems = []
    if s.pool.max_nodes < s.pool.min_nodes:
        problems.append("pool.max_nodes: must be >= pool.min_nodes")
    if s.pool.initial_nodes > s.pool.max_nodes:
        problems.append("pool.initial_nodes: must be <= pool.max_nodes")
    if s.balancer.port == s.api.port:
        problems.append("api.port: must differ from balancer.port")
    node_ports = range(s.pool.node_base_port,
                       s.pool.node_base_port + node_port_span(s.pool.max_nodes))
    for name, port in (("balancer.port", s.balancer.port), ("api.port", s.api.port)):
        if port in node_ports:
            problems.append(f"{name}: {port} collides with node ports from pool.node_base_port")
    if s.controller.launch_retry_max_seconds < s.controller.launch_retry_base_seconds:
        problems.append(
            "controller.launch_retry_max_seconds: must be >= controller.launch_retry_base_seconds"
        )
    if _confirm_invalid(s):
        problems.append(
            "controller.detector_confirm_windows: must be <= controller.detector_confirm_out_of"
        )
    url = s.storage.database_url
    if url is not None and not url.split(":", 1)[0].startswith(("sqlite", "postgresql")):
        problems.append("storage.database_url: must be a sqlite:// or postgresql:// URL")
    return problems


def load_settings(
    config_file: Path | str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read file + environment (+ explicit overrides), validate, or raise ConfigError."""
    data: dict[str, Any] = {}
    if config_file is not None:
        data = _read_toml(Path(config_file))
    env_values = _EnvSource(Settings, os.environ if environ is None else environ)()
    data = _deep_merge(data, env_values)
    if overrides:
        data = _deep_merge(data, overrides)
    for section in SECTIONS:
        if section in data and not isinstance(data[section], Mapping):
            raise ConfigError(f"{section}: must be a table ([{section}]), got {data[section]!r}")
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        where = f" in {config_file}" if config_file else ""
        lines = [_describe(e) for e in exc.errors()]
        raise ConfigError(f"invalid configuration{where}:\n  " + "\n  ".join(lines)) from None
    problems = _cross_checks(settings)
    if problems:
        where = f" in {config_file}" if config_file else ""
        raise ConfigError(f"invalid configuration{where}:\n  " + "\n  ".join(problems))
    return settings
