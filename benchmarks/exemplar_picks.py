"""Validation ρ of an exemplar checkpoint under different exemplar choices (a design diagnostic).

    PYTHONPATH=src python benchmarks/exemplar_picks.py CHECKPOINT DATA [--seed 0]

The val split is carved from DATA's training split as `fit` carves it (train.seed, val_fraction),
so this never looks at test. Picks: `predicted` (the model's: K exemplars of the predicted dive),
`annotated` (K of the annotated dive, CoRe's test protocol), `bank` (the whole bank), `knnN` (the
N bank exemplars nearest in feature space).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from mtlaqa.checkpoint import load_checkpoint, model_from_checkpoint
from mtlaqa.data.dataset import DiveDataset
from mtlaqa.data.loader import make_loader
from mtlaqa.data.manifest import read_manifest
from mtlaqa.data.splits import split_samples
from mtlaqa.metrics import score_metrics
from mtlaqa.schema import ATTRIBUTE_CLASSES


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("data")
    a = ap.parse_args()
    torch.set_num_threads(1)
    model, cfg, _, norm = model_from_checkpoint(load_checkpoint(a.checkpoint))
    val = split_samples(read_manifest(a.data), cfg.data.val_fraction, cfg.train.seed)["val"]
    ds = DiveDataset(val, cfg.data, model.input_spec, False, None, norm, cfg.train.seed)
    k, bank = cfg.model.exemplars, model.bank
    picks: dict[str, list[np.ndarray]] = {}
    true = []
    with torch.no_grad():
        for b in make_loader(ds, 8, False, 0, 0):
            h = model.embed(model.clip_features(b["video"]))  # (B, fc_dim)
            onehot = {
                n: F.one_hot(b["attributes"][n].clamp_min(0), c).float()
                for n, c in ATTRIBUTE_CLASSES.items()
            }
            est = {
                "predicted": model.score.against_bank(h, model.attributes(h), bank, k)["score"],
                "annotated": model.score.against_bank(h, onehot, bank, k)["score"],
                "bank": model.score.against_bank(h, None, bank, len(bank))["score"],
            }
            for n in (5, 10, 20):
                rows = torch.cdist(h, bank.features).topk(n, largest=False).indices  # (B, n)
                e, s = bank.features[rows], bank.scores[rows]
                est[f"knn{n}"] = (s + model.score.difference(h[:, None].expand_as(e), e, s)).mean(1)
            for name, v in est.items():
                picks.setdefault(name, []).append(v.numpy())
            true.append(b["score"].numpy())
    t = np.concatenate(true)
    for name, v in picks.items():
        print(f"{name:<10} val rho {score_metrics(np.concatenate(v), t)['score_spearman']:.4f}")


if __name__ == "__main__":
    main()
