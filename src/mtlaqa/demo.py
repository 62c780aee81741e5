"""`mtlaqa demo`: SynthDive -> train the demo preset -> evaluate -> predict one test video."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mtlaqa.config import load_config
from mtlaqa.data.manifest import MANIFEST_NAME, Sample, read_manifest
from mtlaqa.meteor import prestart_meteor

DEMO_NUM = 800
DEMO_SIZE = 64


def _ensure_data(
    data_dir: Path, num: int, seed: int, progress: bool, echo: Callable[[str], None]
) -> float:
    """Generate SynthDive unless the same dataset is already there; returns seconds spent."""
    from mtlaqa.data.synth.generate import generate_synthdive

    stamp = data_dir / "demo_params.json"
    params = {"num": num, "seed": seed, "size": DEMO_SIZE}
    if (
        (data_dir / MANIFEST_NAME).is_file()
        and stamp.is_file()
        and json.loads(stamp.read_text()) == params
    ):
        echo(f"using the SynthDive data already in {data_dir}")
        return 0.0
    t0 = time.perf_counter()
    generate_synthdive(data_dir, num=num, seed=seed, size=DEMO_SIZE, workers=2, progress=progress)
    stamp.write_text(json.dumps(params))
    dt = time.perf_counter() - t0
    echo(f"generated {num} SynthDive videos in {dt:.0f} s ({num / dt:.1f} dives/s)")
    return dt


def _demo_settings(data_dir: Path, seed: int) -> list[str]:
    """The demo preset's overrides: its data, its seed, and only the best-val weights staged and
    tested (the protocol's last-epoch row, kept by `mtlaqa train demo`, took the caption stage
    from 31 to 52 s and the test from 10 to 14 s in the AVX2 stand-in's fresh-clone demos)."""
    return [f"data.root={data_dir}", f"train.seed={seed}", "train.test_last=false"]


def run_demo(
    out: Path,
    num: int | None = None,
    seed: int = 0,
    overrides: list[str] | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the whole demo in `out`; returns the test metrics of the best-validation checkpoint."""
    t_start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    data_dir = out / "data"
    cfg = load_config("demo", [*_demo_settings(data_dir, seed), *(overrides or [])])
    if cfg.train.meteor:
        # METEOR's JVM loads its tables (~8 CPU-s) now, on the core that the imports below leave
        # idle; started with the caption stage it competed with the stage for both cores
        # (`python -m benchmarks.demo_levers DATA --parts jvm`)
        prestart_meteor()
    from mtlaqa.engine import fit
    from mtlaqa.runfiles import write_run_outputs

    synth_s = _ensure_data(data_dir, num or DEMO_NUM, seed, progress, echo)
    t0 = time.perf_counter()
    result = fit(cfg, out, progress=progress)
    train_s = time.perf_counter() - t0
    samples = read_manifest(data_dir)
    test = [s for s in samples if s.split == "test"]
    write_run_outputs(out, result, test)
    best: dict[str, Any] = result["test"]["best"]
    echo("")
    echo(f"test split ({int(best['n'])} dives), best-validation checkpoint:")
    echo(_test_table(best))
    from mtlaqa.predict import load_model

    example = test[0]
    assert example.video is not None  # SynthDive samples are video files
    t0 = time.perf_counter()
    pred = load_model(out / "checkpoint.pt").predict(example.video)
    predict_s = time.perf_counter() - t0
    echo("")
    truth = f"score {example.score:.2f}, dive {_truth_number(example)}"
    echo(f"prediction for one test video (truth: {truth}):")
    echo(pred.format())
    total = time.perf_counter() - t_start
    echo("")
    phases = {"synth": synth_s, **result["meta"].get("seconds", {}), "predict": predict_s}
    echo("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in phases.items()))
    echo(
        f"training {train_s:.0f} s, demo total {total:.0f} s; outputs in {out}: checkpoint.pt, metrics.json, report.md"
    )
    return best


def _test_table(best: dict[str, Any]) -> str:
    """The test metrics beside their baselines (class-only ρ, majority rates, caption baselines)."""
    from mtlaqa.metrics import format_table

    rows = [("metric", "model", "reference")]
    rows.append(
        (
            "score Spearman ρ",
            f"{best['score_spearman']:.3f}",
            f"class-only baseline {best.get('score_baseline_spearman', float('nan')):.3f}",
        )
    )
    rows.append(("score MAE", f"{best['score_mae']:.2f}", ""))
    for k in ("position", "armstand", "rotation_type", "ss_no", "tw_no", "whole_dive"):
        if f"attributes_acc_{k}" in best:
            rows.append(
                (
                    f"accuracy {k}",
                    f"{best[f'attributes_acc_{k}']:.3f}",
                    f"majority {best.get(f'attributes_majority_{k}', float('nan')):.3f}",
                )
            )
    for k in ("bleu_4", "meteor", "rouge_l", "cider"):
        if f"caption_{k}" in best:
            const = best.get(f"caption_baseline_constant_{k}", float("nan"))
            near = best.get(f"caption_baseline_retrieval_{k}", float("nan"))
            rows.append(
                (
                    k,
                    f"{best[f'caption_{k}']:.3f}",
                    f"best constant {const:.3f}, retrieval {near:.3f}",
                )
            )
    for k, label in (
        ("caption_distinct", "distinct commentaries"),
        ("caption_dive_agree_pred", "commentary names predicted dive"),
        ("caption_dive_agree_true", "commentary names true dive"),
    ):
        if k in best:
            rows.append((label, f"{best[k]:.3f}", ""))
    return format_table(rows[1:], header=rows[0])


def _truth_number(s: Sample) -> str:
    from mtlaqa.schema import dive_number

    a = s.attributes()
    return dive_number(**a) if a else "?"
