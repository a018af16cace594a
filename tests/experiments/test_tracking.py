"""MLflow logging of a finished run: params, headline metrics and the report, in a local store."""

import json

import pytest

from experiments.tracking import log_run, tracking_uri


def _fake_run(tmp_path):
    run = tmp_path / "runs" / "s" / "20260101T000000Z-abc123"
    (run / "vectors").mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"study": "s", "finished_utc": "x"}))
    (run / "config.json").write_text(json.dumps({"study": {"model": "tiny", "seed": 0}, "sweep": {"alphas": [0.0, 1.0]}}))
    (run / "vectors" / "summary.json").write_text(json.dumps(
        {"headline": [{"name": "cos a~b", "value": 0.25, "lo": 0.1, "hi": 0.4}, {"name": "band", "value": "3–5"}]}))
    (run / "report.html").write_text("<html></html>")
    return run


def test_log_run_writes_params_metrics_and_report(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow", reason="the 'tracking' extra (mlflow) is not installed")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run = _fake_run(tmp_path)
    rid = log_run(run, runs_root=tmp_path / "runs")
    assert rid and (tmp_path / "runs" / "mlflow.db").exists()
    client = mlflow.MlflowClient(tracking_uri=tracking_uri(tmp_path / "runs"))
    logged = client.get_run(rid)
    assert logged.data.params["study.model"] == "tiny"
    assert logged.data.metrics == {"vectors_ cos a_b": 0.25}  # names sanitised for MLflow; non-numeric headlines skipped
    assert [a.path for a in client.list_artifacts(rid)] == ["report.html"]
    assert log_run(run, runs_root=tmp_path / "runs") != rid  # a second log is a second MLflow run in the same store
