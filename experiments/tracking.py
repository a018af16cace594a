"""Optional MLflow logging of a run: params, headline metrics, and the report as an artifact.

Active only when the ``tracking`` extra (mlflow) is installed; the store defaults to a local
SQLite database ``<runs root>/mlflow.db`` with artifacts under ``<runs root>/mlartifacts``
(``$MLFLOW_TRACKING_URI`` overrides it). MLflow 3 refuses the old ``./mlruns`` file store.
"""

import importlib.util
import os
from pathlib import Path

from experiments.runs import headlines
from interp.io import read_json
from interp.run_context import contained, validate_name


def mlflow_available() -> bool:
    return importlib.util.find_spec("mlflow") is not None


def _flatten(d: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = str(v)[:250]
    return out


def tracking_uri(runs_root: str | Path) -> str:
    """``$MLFLOW_TRACKING_URI``, else the SQLite store ``<runs root>/mlflow.db``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(runs_root).resolve() / 'mlflow.db'}"


def log_run(run_dir: str | Path, *, runs_root: str | Path = "runs") -> str | None:
    """Log ``run_dir`` to MLflow; return the MLflow run id, or None when mlflow is not installed."""
    if not mlflow_available():
        return None
    import mlflow  # noqa: PLC0415 - optional

    run = Path(run_dir)
    root = Path(runs_root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri(root))
    manifest = read_json(run / "manifest.json")
    name = validate_name(manifest.get("study", "emotion-circuits"), what=f"study name in {str(run / 'manifest.json')!r}")
    if mlflow.get_experiment_by_name(name) is None:
        artifacts = contained(root / "mlartifacts" / name, root, what="MLflow artifact folder")
        mlflow.create_experiment(name, artifact_location=artifacts.as_uri())
    mlflow.set_experiment(name)
    with mlflow.start_run(run_name=run.name) as active:
        config = read_json(run / "config.json") if (run / "config.json").exists() else {}
        mlflow.log_params(_flatten(config))
        metrics = {}
        for key, row in headlines(run).items():
            if isinstance(row.get("value"), (int, float)):
                safe = "".join(c if c.isalnum() or c in "._-/ " else "_" for c in key)[:250]
                metrics[safe] = float(row["value"])
        if metrics:
            mlflow.log_metrics(metrics)
        if (run / "report.html").exists():
            mlflow.log_artifact(str(run / "report.html"))
        return active.info.run_id
