"""Per-epoch metric sinks of a run: history.jsonl and history.csv always, TensorBoard if installed."""

from __future__ import annotations

import csv
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class RunLog:
    """Rewrites the history files from the full history (so a resumed run stays consistent)."""

    def __init__(self, out: Path, tensorboard: bool = True) -> None:
        self.out = out
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter  # optional dependency

                self.tb = SummaryWriter(str(out / "tensorboard"))
            except ImportError:
                log.debug("tensorboard not installed: CSV/JSONL only")

    def write(self, history: list[dict[str, Any]], new: dict[str, Any] | None = None) -> None:
        """Write all rows (atomically) and send `new` to TensorBoard."""
        rows = [{k: _clean(v) for k, v in r.items()} for r in history]
        self._atomic(self.out / "history.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
        keys = list(dict.fromkeys(k for r in rows for k in r))
        tmp = self.out / "history.csv.tmp"
        with tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, self.out / "history.csv")
        if self.tb is not None and new is not None:
            for k, v in new.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "epoch":
                    self.tb.add_scalar(k.replace("_", "/", 1), v, new["epoch"])
            self.tb.flush()

    def close(self) -> None:
        """Close TensorBoard's writer."""
        if self.tb is not None:
            self.tb.close()

    @staticmethod
    def _atomic(path: Path, text: str) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
