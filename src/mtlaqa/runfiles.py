"""What a finished run leaves on disk: metrics.json, report.md and its figures."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from mtlaqa.data.manifest import Sample
from mtlaqa.report import write_report


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


def write_json(obj: Any, path: str | Path) -> Path:
    """JSON with numpy values converted and NaN written as null."""
    path = Path(path)
    path.write_text(json.dumps(_jsonable(obj), indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def report_predictions(pred: dict[str, Any], samples: list[Sample]) -> dict[str, Any]:
    """Predictions in the shape `write_report` draws (captions as (id, hyp, ref) triples)."""
    out = {
        k: pred[k]
        for k in ("score_pred", "score_true", "attributes_pred", "attributes_true")
        if k in pred
    }
    if "caption_pred" in pred:
        refs = {s.id: s.caption or "" for s in samples}
        out["caption_pred"] = [
            (i, h, refs.get(i, "")) for i, h in zip(pred["ids"], pred["caption_pred"], strict=True)
        ]
    return out


def _interval_note(meta: dict[str, Any]) -> dict[str, str] | None:
    note = str(meta.get("interval", ""))
    return {"note": note} if note.startswith("no interval") else None


def write_run_outputs(
    run_dir: str | Path, result: dict[str, Any], test_samples: list[Sample]
) -> Path:
    """metrics.json (meta, test last/best, history) and report.md with plots."""
    run_dir = Path(run_dir)
    metrics = {"meta": result["meta"], "test": result.get("test", {}), "history": result["history"]}
    if result.get("calibration"):
        metrics["calibration"] = result["calibration"]  # test coverage per nominal level
    write_json(metrics, run_dir / "metrics.json")
    preds = result.get("predictions", {}).get("best")
    write_report(
        run_dir,
        result.get("test", {}),
        result["history"],
        report_predictions(preds, test_samples) if preds else None,
        calibration=result.get("calibration") or _interval_note(result["meta"]),
    )
    return run_dir / "metrics.json"
