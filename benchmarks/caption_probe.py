"""Caption-decoder probe: decoder variants trained on a trained run's frozen features, scored on val.

Cheap stand-in for full demo trainings when comparing caption-head choices one at a time
(conditioning none / heads at the step input / heads in the initial state, decoding, the
conditioning seen in training). The body and the score/attribute heads are those of CHECKPOINT
and stay frozen, so this measures what the decoder can say from them, not the caption loss's pull
on the shared body (that needs full runs). Usage:

    python -m benchmarks.caption_probe CHECKPOINT DATA OUT.json [--epochs 30]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch

from mtlaqa.caption_baselines import caption_report
from mtlaqa.caption_stage import pad_tokens
from mtlaqa.checkpoint import load_checkpoint, model_from_checkpoint
from mtlaqa.data.dataset import DiveDataset
from mtlaqa.data.loader import make_loader
from mtlaqa.data.manifest import read_manifest
from mtlaqa.losses import caption_loss
from mtlaqa.models.grounding import HEADS_DIM, condition_vector
from mtlaqa.models.heads import CaptionHead
from mtlaqa.run_setup import seed_everything
from mtlaqa.schema import ATTRIBUTE_CLASSES

# name -> (condition, at, train condition from the truth, one-hot predicted dive at inference);
# each trained head is decoded greedily and, for DECODE_BEAM, also with a beam of 3. The last one
# is `caption_condition_source: teacher` (models/grounding.py).
VARIANTS = {
    "none (S2VT)": ("none", "step", False, False),
    "heads, step input": ("heads", "step", False, False),
    "heads, initial state": ("heads", "state", False, False),
    "heads, step input, trained on true labels": ("heads", "step", True, False),
    "heads, step input, teacher (true dive in training, predicted one-hot at inference)": (
        "heads",
        "step",
        True,
        True,
    ),
}
DECODE_BEAM = {"heads, step input"}


@torch.no_grad()
def features(model, cfg, samples, vocab, norm):  # noqa: ANN001, ANN201
    """Clip features, condition vectors, true-label condition vectors and captions of `samples`."""
    ds = DiveDataset(
        samples, cfg.data, model.input_spec, False, vocab, norm, 0, cfg.model.caption_max_len
    )
    feats, conds, truth = [], [], []
    heads_cfg = dataclasses.replace(cfg.model, caption_condition="heads")
    for batch in make_loader(ds, 16, False, 0, 0):
        out = model(batch["video"])
        feats.append(out["features"].float())
        conds.append(condition_vector(out, heads_cfg))
        parts = [
            torch.nn.functional.one_hot(batch["attributes"][k].clamp_min(0), n).float()
            for k, n in ATTRIBUTE_CLASSES.items()
        ]
        truth.append(torch.cat([*parts, batch["score"].unsqueeze(-1)], -1))
    return torch.cat(feats), torch.cat(conds), torch.cat(truth), ds


def train_decoder(feats, cond, ds, vocab, cfg, at, use_cond, epochs, seed):  # noqa: ANN001, ANN201
    seed_everything(seed)
    m = cfg.model
    head = CaptionHead(
        feats.shape[-1],
        len(vocab),
        m.caption_hidden,
        m.caption_embed,
        m.caption_layers,
        cond_dim=HEADS_DIM if use_cond else 0,
        cond_at=at,
    )
    opt = torch.optim.Adam(head.parameters(), lr=cfg.train.lr)
    tokens = [torch.tensor(vocab.encode(s.caption or "", m.caption_max_len)) for s in ds.samples]
    n = len(tokens)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        head.train()
        for idx in torch.randperm(n, generator=g).split(cfg.train.batch_size):
            b = pad_tokens([tokens[i] for i in idx])
            logits = head(feats[idx], b[0], cond[idx] if use_cond else None)
            loss = caption_loss(logits, b[1])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return head.eval()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, cfg, vocab, norm = model_from_checkpoint(load_checkpoint(args.checkpoint))
    cfg.model.caption_max_len = 100
    samples = read_manifest(args.data)
    split = {k: [s for s in samples if s.split == k] for k in ("train", "val")}
    cache = Path(args.out).with_suffix(".features.pt")
    if cache.is_file():
        tr_f, tr_c, tr_t, va_f, va_c = torch.load(cache)
    else:
        tr_f, tr_c, tr_t, _ = features(model, cfg, split["train"], vocab, norm)
        va_f, va_c, _, _ = features(model, cfg, split["val"], vocab, norm)
        torch.save((tr_f, tr_c, tr_t, va_f, va_c), cache)
    tr_ds = DiveDataset(split["train"], cfg.data, model.input_spec, False, vocab, norm)
    va_attr = {k: v.argmax(-1).numpy() for k, v in _split_cond(va_c).items()}
    va_hard = torch.cat(
        [
            torch.nn.functional.one_hot(v.argmax(-1), v.shape[-1]).float()
            for v in _split_cond(va_c).values()
        ]
        + [va_c[:, -1:]],
        -1,
    )
    va_score = norm.inverse(va_c[:, -1].numpy())
    results = {}
    for name, (condition, at, from_truth, hard) in VARIANTS.items():
        use = condition == "heads"
        head = train_decoder(
            tr_f, tr_t if from_truth else tr_c, tr_ds, vocab, cfg, at, use, args.epochs, args.seed
        )
        for beam in (1, 3) if name in DECODE_BEAM else (1,):
            va_cond = (va_hard if hard else va_c) if use else None
            toks = head.generate(va_f, 100, beam=beam, cond=va_cond)
            pred = {
                "ids": [s.id for s in split["val"]],
                "caption_pred": [vocab.decode(t) for t in toks],
                "attributes_pred": va_attr,
                "score_pred": va_score,
            }
            m = caption_report(pred, split["val"], split["train"], meteor=False)
            key = name + (f", beam {beam}" if beam > 1 else "")
            results[key] = {k: float(v) for k, v in m.items()}
            print(key, {k: round(v, 3) for k, v in results[key].items() if "bleu_" not in k})
    Path(args.out).write_text(
        json.dumps(
            {
                "checkpoint": args.checkpoint,
                "epochs": args.epochs,
                "seed": args.seed,
                "val": results,
            },
            indent=1,
        )
    )


def _split_cond(c: torch.Tensor) -> dict[str, torch.Tensor]:
    out, j = {}, 0
    for k, n in ATTRIBUTE_CLASSES.items():
        out[k] = c[:, j : j + n]
        j += n
    return out


if __name__ == "__main__":
    main()
