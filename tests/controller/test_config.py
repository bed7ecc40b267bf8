"""Settings: TOML + environment, validated with messages that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import ConfigError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleetcast.toml"
    path.write_text(text)
    return path


def test_defaults_run_without_a_file() -> None:
    s = load_settings(environ={})
    assert (s.balancer.port, s.api.port, s.pool.node_base_port) == (8000, 8080, 8101)
    assert s.controller.tick_seconds == 15
    assert s.recovery.max_ejection_percent == 10
    assert s.security.fault_injection is False
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("fleetcast.db")


def test_file_then_environment(tmp_path: Path) -> None:
    path = write(tmp_path, """
data_dir = "/tmp/fc"
[pool]
initial_nodes = 2
max_nodes = 6
[controller]
tick_seconds = 2
node_capacity_rps = 30
[security]
admin_token = "sekret-token"
fault_injection = true
""")
    s = load_settings(path, environ={"FLEETCAST_POOL_MAX_NODES": "8",
                                     "FLEETCAST_DATABASE_URL": "postgresql://u@h/db",
                                     "FLEETCAST_TEST_DATABASE_URL": "ignored"})
    assert s.pool.max_nodes == 8
    assert s.controller.tick_seconds == 2 and s.controller.node_capacity_rps == 30
    assert s.security.fault_injection is True
    assert s.database_url == "postgresql://u@h/db"
    assert str(s.data_dir) == "/tmp/fc"


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("[pool]\nmin_nodes = 3\nmax_nodes = 2\n", {}, "pool.max_nodes: must be >= pool.min_nodes"),
        ("[pool]\nbogus = 1\n", {}, "pool.bogus: unknown key"),
        ("nonsense = 1\n", {}, "nonsense: unknown key"),
        ("[controller]\ntick_seconds = -1\n", {}, "controller.tick_seconds"),
        ("[balancer]\nstrategy = 'fastest'\n", {}, "balancer.strategy"),
        ("", {"FLEETCAST_POOL_MAX_NODES": "many"}, "pool.max_nodes"),
        ("[storage]\ndatabase_url = 'mysql://x'\n", {}, "storage.database_url"),
        ("pool = 3\n", {}, "pool: must be a table"),
    ],
    ids=["min>max", "unknown-key", "unknown-top", "negative-tick", "bad-strategy", "env-not-int",
         "bad-db-url", "section-not-table"],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, env: dict[str, str],
                                 expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
        load_settings(write(tmp_path, text), environ=env)


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[pool]\nmax_nodes = = 3\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, environ={})
    assert str(path) in str(err.value) and "line 2" in str(err.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.toml"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_cli_rejects_bad_config_before_starting_anything(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from controller.cli import main

    bad = write(tmp_path, "[pool]\nmin_nodes = 3\nmax_nodes = 2\n")
    result = CliRunner().invoke(main, ["up", "--config", str(bad)])
    assert result.exit_code == 2
    assert "pool.max_nodes: must be >= pool.min_nodes" in result.output
    missing = CliRunner().invoke(main, ["demo", "--config", str(tmp_path / "nope.toml")])
    assert missing.exit_code == 2 and "--config" in missing.output


@pytest.mark.parametrize("key", ["forecast_model_path", "detector_model_path"])
def test_a_model_path_that_is_no_file_names_the_key(tmp_path: Path, key: str) -> None:
    # before: start-up went on without the model, said only in a log line (for the
    # detector: a loop with no fault detection at all)
    missing = tmp_path / "models" / "typo.joblib"
    with pytest.raises(ConfigError, match=rf"controller\.{key}: .*no such file"):
        load_settings(write(tmp_path, f"[controller]\n{key} = '{missing}'\n"), environ={})
    with pytest.raises(ConfigError, match=rf"controller\.{key}: .*a directory"):
        load_settings(None, environ={f"FLEETCAST_CONTROLLER_{key.upper()}": str(tmp_path)})
    model = tmp_path / "model.joblib"
    model.write_bytes(b"x")
    settings = load_settings(write(tmp_path, f"[controller]\n{key} = '{model}'\n"), environ={})
    assert getattr(settings.controller, key) == model
