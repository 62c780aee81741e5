import json

from click.testing import CliRunner

from mtlaqa.cli import main
from mtlaqa.data.manifest import read_manifest


def test_synth_command_writes_a_valid_dataset(tmp_path):
    r = CliRunner().invoke(
        main, ["synth", str(tmp_path / "d"), "--num", "4", "--size", "32", "--workers", "1"]
    )
    assert r.exit_code == 0, r.output
    samples = read_manifest(tmp_path / "d")
    assert len(samples) == 4 and all(s.score is not None for s in samples)


def test_predict_json_and_bad_video_exit_status(tiny_run, synth_dir, tmp_path):
    run, _ = tiny_run
    video = read_manifest(synth_dir)[0].video
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    r = CliRunner().invoke(main, ["predict", str(run / "checkpoint.pt"), video, str(bad), "--json"])
    assert r.exit_code == 1
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1 and "score" in json.loads(lines[0])
    assert "bad.mp4" in r.stderr and "Traceback" not in r.output


def test_train_and_evaluate_commands(tiny_cfg, synth_dir, tmp_path):
    from tests.conftest import TINY

    out = tmp_path / "run"
    args = ["train", "demo", "--data", str(synth_dir), "--out", str(out), "--quiet"]
    args += [x for kv in TINY for x in ("--set", kv)] + ["--set", "train.epochs=1"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert (out / "report.md").is_file() and (out / "metrics.json").is_file()
    m = json.loads((out / "metrics.json").read_text())
    assert m["meta"]["protocol"] == "direct" and "score_spearman" in m["test"]["best"]
    js = tmp_path / "eval.json"
    r = CliRunner().invoke(
        main, ["evaluate", str(out), "--data", str(synth_dir), "--json", str(js), "--no-meteor"]
    )
    assert r.exit_code == 0, r.output
    assert "score_spearman" in json.loads(js.read_text())


def test_user_errors_are_one_line(tmp_path):
    r = CliRunner().invoke(
        main, ["train", "demo", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o")]
    )
    assert r.exit_code == 2
    assert r.stderr.strip().startswith("error:") and "manifest not found" in r.stderr
    assert "Traceback" not in r.output
    r = CliRunner().invoke(main, ["train", "demo", "--set", "train.bogus=1"])
    assert r.exit_code == 2 and "unknown key 'train.bogus'" in r.stderr


def test_the_cli_and_the_demo_module_start_without_torch():
    # `mtlaqa demo` starts METEOR's JVM before the torch import, so that the two overlap
    import subprocess
    import sys

    code = "import sys, mtlaqa.cli, mtlaqa.demo; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
