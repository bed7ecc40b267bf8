"""NodeDetector on synthetic fleets: faults found and named, load spikes ignored,
silent, joining and leaving nodes handled, batch == online, persistence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector import DetectorInputError, NodeDetector, NotFittedError, detect_frame
from detector.synth import LIVE_METRICS, healthy_fleet, inject

from .conftest import START, STEP

Window = dict[str, dict[str, float]]


def windows(frame: pd.DataFrame) -> Iterator[tuple[datetime, Window]]:
    """The long frame as the live loop sees it: one {node: {metric: value}} per timestamp."""
    for ts, group in frame.groupby("timestamp", sort=True):
        window: Window = {}
        for row in group.itertuples(index=False):
            window.setdefault(row.node, {})[row.metric] = float(row.value)
        yield pd.Timestamp(ts).to_pydatetime(), window


def after(frame: pd.DataFrame, ts: pd.Timestamp) -> pd.DataFrame:
    return frame[frame["timestamp"] >= ts]


@pytest.mark.parametrize(
    ("metric", "change"),
    [
        ("latency_p50_ms", {"add": 300.0}),
        ("error_rate", {"add": 0.2}),
        ("rss_mb", {"factor": 3.0}),
    ],
    ids=["latency", "errors", "memory"],
)
def test_one_faulty_node_is_found_and_its_metric_named(
    fitted: NodeDetector, fleet: pd.DataFrame, train_until: pd.Timestamp, metric: str, change: dict
) -> None:
    fault_at = train_until + 60 * STEP
    broken = inject(fleet, "node-3", metric, fault_at, **change)
    alerts = detect_frame(fitted, broken, train_until).alerts
    flagged = alerts[alerts["anomalous"] == 1]
    assert set(flagged["node"]) == {"node-3"}
    first = flagged["timestamp"].min()
    assert fault_at <= first <= fault_at + 3 * STEP
    tops = flagged["top_metrics"].str.split(";")
    assert all(metric in top for top in tops)


def test_healthy_tail_raises_no_alert(
    fitted: NodeDetector, fleet: pd.DataFrame, train_until: pd.Timestamp
) -> None:
    result = detect_frame(fitted, fleet, train_until)
    assert result.alerts["anomalous"].sum() == 0
    assert result.fleet == ()


def test_fleet_wide_load_spike_flags_no_node(
    fitted: NodeDetector, fleet: pd.DataFrame, train_until: pd.Timestamp
) -> None:
    spike_at, spike_end = train_until + 50 * STEP, train_until + 80 * STEP
    spiked = fleet
    for node in sorted(fleet["node"].unique()):
        for metric, factor in [
            ("rps", 3.0),
            ("inflight", 3.0),
            ("cpu_percent", 2.5),
            ("latency_p50_ms", 1.5),
            ("latency_p99_ms", 1.8),
            ("loop_lag_ms", 2.0),
        ]:
            spiked = inject(spiked, node, metric, spike_at, spike_end, factor=factor)
    fitted.reset()
    for now, window in windows(after(spiked, train_until - 30 * STEP)):
        result = fitted.step(now, window)
        assert result.anomalies == (), f"flagged during a fleet-wide spike at {now}"


def test_fleet_guard_reports_one_fleet_anomaly_when_too_many_nodes_break(
    fitted: NodeDetector, fleet: pd.DataFrame, train_until: pd.Timestamp
) -> None:
    fault_at = train_until + 40 * STEP
    broken = inject(fleet, "node-1", "error_rate", fault_at, add=0.3)
    broken = inject(broken, "node-2", "error_rate", fault_at, add=0.3)
    result = detect_frame(fitted, broken, train_until)
    assert result.fleet, "two of five nodes (> 10 %) anomalous must be a fleet-wide anomaly"
    assert set(result.fleet[0].nodes) == {"node-1", "node-2"}
    assert result.alerts["anomalous"].sum() == 0
    relaxed = detect_frame(fitted.set_params(max_ejection_percent=50.0), broken, train_until)
    fitted.set_params(max_ejection_percent=10.0)
    assert set(relaxed.alerts.loc[relaxed.alerts["anomalous"] == 1, "node"]) == {"node-1", "node-2"}


def test_silent_node_becomes_absent_after_n_windows(
    fitted: NodeDetector, fleet: pd.DataFrame, train_until: pd.Timestamp
) -> None:
    fitted.reset()
    stream = list(windows(after(fleet, train_until - 30 * STEP)))[:60]
    for now, window in stream[:40]:
        assert fitted.step(now, window).anomalies == ()
    silent_since = stream[40][0]
    results = []
    for now, window in stream[40:45]:
        window = {node: sample for node, sample in window.items() if node != "node-4"}
        results.append(fitted.step(now, window))
    assert results[1].anomalies == ()  # two silent windows: not yet
    anomaly = results[2].anomalies[0]
    assert (anomaly.node, anomaly.top_metrics, anomaly.since) == (
        "node-4",
        ("absent",),
        silent_since,
    )
    assert [a.node for a in fitted.localize()] == ["node-4"]


def test_nodes_join_and_leave(fitted: NodeDetector, fleet: pd.DataFrame, train_until) -> None:
    fitted.reset()
    stream = list(windows(after(fleet, train_until - 30 * STEP)))[:80]
    newcomer = healthy_fleet(n_nodes=6, steps=700, seed=7)  # same load: node-5 is a 6th peer
    extra = dict(windows(newcomer[newcomer["node"] == "node-5"]))
    members = {f"node-{i}" for i in range(5)}
    for i, (now, window) in enumerate(stream):
        if i == 30:  # node-5 joins
            members.add("node-5")
        if i == 50:  # node-0 is drained and leaves the pool
            members.discard("node-0")
        if "node-5" in members:
            window = window | {"node-5": extra[now]["node-5"]}
        window = {node: sample for node, sample in window.items() if node in members}
        result = fitted.step(now, window, members=members)
        assert result.anomalies == (), f"window {i}: {result.anomalies}"
        assert set(result.anomalous) == members


def test_node_leaving_without_membership_is_absent_then_forgotten(
    fitted: NodeDetector, fleet: pd.DataFrame, train_until: pd.Timestamp
) -> None:
    fitted.reset()
    stream = list(windows(after(fleet, train_until - 30 * STEP)))[:70]
    for now, window in stream[:30]:
        fitted.step(now, window)
    for now, window in stream[30:]:
        result = fitted.step(now, {n: s for n, s in window.items() if n != "node-0"})
    assert "node-0" not in result.anomalous  # forgotten after forget_after windows


def test_batch_and_online_give_the_same_scores_and_alerts(
    fitted: NodeDetector, fleet: pd.DataFrame, train_until: pd.Timestamp
) -> None:
    frame = inject(fleet, "node-2", "cpu_percent", train_until + 20 * STEP, add=60)
    frame = frame[frame["timestamp"].between(train_until - 40 * STEP, train_until + 60 * STEP)]
    frame = frame.drop(frame.sample(frac=0.02, random_state=3).index)  # missing samples
    batch = detect_frame(fitted, frame).alerts
    fitted.reset()
    rows = []
    for now, window in windows(frame):
        result = fitted.step(now, window)
        for node, anomalous in result.anomalous.items():
            rows.append((pd.Timestamp(now), node, result.scores.get(node, np.nan), int(anomalous)))
    online = pd.DataFrame(rows, columns=["timestamp", "node", "score", "anomalous"])
    merged = batch.merge(online, on=["timestamp", "node"], suffixes=("_b", "_o"))
    assert len(merged) == len(batch) == len(online)
    np.testing.assert_allclose(merged["score_b"], merged["score_o"], rtol=1e-9, equal_nan=True)
    assert (merged["anomalous_b"] == merged["anomalous_o"]).all()
    assert merged["anomalous_b"].sum() > 0


def test_score_returns_raw_scores_per_node_window(fitted: NodeDetector, fleet) -> None:
    scored = fitted.score(fleet[fleet["timestamp"] < START + 40 * STEP])
    assert list(scored.columns) == ["timestamp", "node", "score", "flagged", "top_metrics"]
    assert len(scored) == 5 * 40
    assert scored["score"].between(0, 5).all()


def test_any_numeric_metrics_work() -> None:
    frame = healthy_fleet(n_nodes=4, steps=300, seed=2, metrics=("queue_depth", "temperature"))
    detector = NodeDetector(n_estimators=20).fit(frame)
    assert detector.metrics_ == ("queue_depth", "temperature")
    assert len(detector.score(frame)) == 4 * 300


def test_save_load_roundtrip_keeps_model_and_metadata(fitted: NodeDetector, fleet, tmp_path: Path):
    path = fitted.save(tmp_path / "model.joblib")
    loaded = NodeDetector.load(path)
    assert loaded.get_params() == fitted.get_params()
    meta = loaded.metadata_
    assert meta["metrics"] == sorted(LIVE_METRICS)
    assert {"features", "threshold", "training_range", "versions"} <= set(meta)
    assert "scikit-learn" in meta["versions"]
    sample = fleet[fleet["timestamp"] < START + 30 * STEP]
    pd.testing.assert_frame_equal(loaded.score(sample), fitted.score(sample))


def test_default_model_ships_with_the_live_metrics() -> None:
    detector = NodeDetector.default()
    assert set(detector.metrics_) == set(LIVE_METRICS)
    assert detector.metadata_["training_rows"] > 10_000


def test_unfitted_detector_says_so() -> None:
    with pytest.raises(NotFittedError, match="fit"):
        NodeDetector().score(pd.DataFrame(columns=["timestamp", "node", "metric", "value"]))


def test_empty_window_is_fine(fitted: NodeDetector) -> None:
    fitted.reset()
    result = fitted.step(datetime(2026, 1, 1), {})
    assert result.anomalies == () and result.scores == {}


@pytest.mark.parametrize("spans", [(3, 8), (3, 30)])  # 30: longer than the self baseline
def test_multi_scale_channels_batch_equals_online(
    fleet: pd.DataFrame, train_until, spans: tuple[int, int]
) -> None:
    detector = NodeDetector(n_estimators=20, smooth_windows=spans, learn_offsets=False)
    detector.fit(fleet[fleet["timestamp"] < train_until])
    assert len(detector.metadata_["features"]) == 8 * 3 * 2 + 1
    frame = inject(fleet, "node-1", "rss_mb", train_until + 15 * STEP, factor=2.0)
    frame = frame[frame["timestamp"].between(train_until - 30 * STEP, train_until + 40 * STEP)]
    frame = frame.drop(frame.sample(frac=0.03, random_state=5).index)
    cube = detector.cube(frame)
    batch, _ = detector.score_cube(cube)
    detector.reset()
    online = np.full_like(batch, np.nan)
    for t, (now, window) in enumerate(windows(frame)):
        result = detector.step(now, window)
        for node, score in result.scores.items():
            online[t, cube.nodes.index(node)] = score
    np.testing.assert_allclose(online, batch, rtol=1e-9, equal_nan=True)
    flagged = detect_frame(detector, frame).alerts.query("anomalous == 1")
    assert set(flagged["node"]) == {"node-1"}


def test_drifting_scrape_times_are_snapped_to_one_grid() -> None:
    from detector.frame import to_cube, validate_long

    frame = healthy_fleet(n_nodes=3, steps=50, seed=3)
    jitter = frame["node"].map({"node-0": 0, "node-1": 2, "node-2": -3})
    frame = frame.assign(timestamp=frame["timestamp"] + pd.to_timedelta(jitter, unit="s"))
    cube = to_cube(validate_long(frame))
    assert cube.values.shape == (50, 3, 8)
    assert cube.present.all()


def noise_fleet(windows: int, seed: int, nodes: int = 6) -> pd.DataFrame:
    """Healthy nodes whose four metrics are independent Gaussian noise."""
    rng = np.random.default_rng(seed)
    stamps = pd.date_range("2024-03-01", periods=windows, freq="15s")
    parts = [
        pd.DataFrame(
            {
                "timestamp": stamps,
                "node": f"n{n}",
                "metric": f"m{m}",
                "value": np.abs(mu + rng.normal(0, sd, windows)),
            }
        )
        for n in range(nodes)
        for m, (mu, sd) in enumerate([(50, 3), (1000, 10), (20, 4), (5, 1)])
    ]
    return pd.concat(parts, ignore_index=True)


def test_pure_noise_fleet_raises_almost_no_alert_episodes() -> None:
    # 2 x 6 nodes x 2000 test windows of noise: single-window extremes are expected
    # (about 0.5 % raw flags at the 0.995 threshold), alert episodes should not be
    episodes = 0
    for seed in (1, 2):
        data = noise_fleet(3000, seed)
        until = data["timestamp"].iloc[0] + pd.Timedelta(seconds=15 * 1000)
        model = NodeDetector().fit(data[data["timestamp"] < until])
        alerts = detect_frame(model, data, until).alerts
        flags = alerts.sort_values(["node", "timestamp"]).groupby("node")["anomalous"]
        episodes += int(sum(((f.diff() == 1) | ((f == 1) & f.shift().isna())).sum()
                            for _, f in flags))
    assert episodes <= 2


@pytest.mark.parametrize("content", [b"timestamp,node\n1,a\n", b""])
def test_loading_a_file_that_is_no_model_names_it_and_the_remedy(content: bytes,
                                                                 tmp_path: Path) -> None:
    # before: "not a fleetcast detector model (pop from empty list)", the unpickler's words
    path = tmp_path / "small.csv"
    path.write_bytes(content)
    with pytest.raises(DetectorInputError) as caught:
        NodeDetector.load(path)
    assert str(caught.value) == (f"{path}: not a fleetcast detector model (unreadable as one; "
                                 "write one with `fleetcast train detector`)")
