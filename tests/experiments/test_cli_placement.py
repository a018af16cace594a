"""Model placement on the command line: --device checked while parsing, the split options and their environment variables."""

import json

import pytest
import torch
import typer
from typer.testing import CliRunner

from experiments.cli_common import DeviceMapOpt, DeviceOpt, MaxMemoryOpt, NDevicesOpt, load_model_cli
from tests.helpers import run_cli

NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="the cases assume a machine without CUDA")


@NO_GPU
@pytest.mark.parametrize("device", ["cuda", "cuda:7", "tpu"])
def test_device_this_machine_lacks_is_one_error_line_before_anything_is_written(tmp_path, capsys, device):
    code, _, err = run_cli(["extract", "--model", "tiny", "--device", device, "--runs-root", str(tmp_path / "runs")], capsys)
    assert code == 2 and err.startswith(f"error: --device '{device}' ") and "devices here: cpu" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()


def test_device_map_environment_reaches_commands_without_the_flags(tmp_path, capsys, monkeypatch):
    """``extract`` declares no --device-map: the environment variable still places (here: refuses) its model."""
    monkeypatch.setenv("EMOTION_CIRCUITS_DEVICE_MAP", json.dumps({"model.embed_tokens": "cpu", "model.layers": "cpu"}))
    code, _, err = run_cli(["extract", "--model", "tiny", "--runs-root", str(tmp_path / "runs")], capsys)
    assert code == 2 and err.startswith("error: device_map leaves model.norm, lm_head without a device")
    assert not (tmp_path / "runs").exists()


def _app():
    app = typer.Typer()

    @app.command()
    def load(device: str = DeviceOpt, device_map: str = DeviceMapOpt, n_devices: int = NDevicesOpt, max_memory: str = MaxMemoryOpt) -> None:
        m = load_model_cli("tiny", device, quiet=True, device_map=device_map, n_devices=n_devices, max_memory=max_memory)
        print(json.dumps({"n_devices": m.ec_info.n_devices, "device": str(m.cfg.device)}))

    return app


def test_split_flags_load_a_model_and_refuse_bad_values(tmp_path):
    runner = CliRunner()
    (tmp_path / "map.json").write_text(json.dumps({"": "cpu"}))
    ok = runner.invoke(_app(), ["--device-map", str(tmp_path / "map.json")])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout.strip().splitlines()[-1]) == {"n_devices": 1, "device": "cpu"}
    for args, message in ((["--max-memory", "cpu=lots", "--device-map", "{\"\": \"cpu\"}"], "max_memory for 'cpu' is 'lots'"),
                          (["--device-map", "{oops"], "device_map is not valid JSON"),
                          (["--device", "cpu", "--device-map", "{\"\": \"cpu\"}"], "give device ('cpu') or a split")):
        bad = runner.invoke(_app(), args)
        assert bad.exit_code != 0 and message in str(bad.exception), (args, bad.exception)
