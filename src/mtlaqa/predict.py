"""Inference on video files: score, attributes, FINA dive number, commentary, clip contributions."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from mtlaqa import conformal
from mtlaqa.checkpoint import load_checkpoint, model_from_checkpoint
from mtlaqa.data.dataset import DiveDataset
from mtlaqa.data.manifest import Sample
from mtlaqa.data.video import count_frames
from mtlaqa.device import amp_dtype, inference_context, select_device
from mtlaqa.errors import MtlaqaError
from mtlaqa.models.exemplar import predicted_types
from mtlaqa.models.grounding import generate_commentary
from mtlaqa.predict_inputs import checked_path
from mtlaqa.schema import ATTRIBUTE_CLASSES, ATTRIBUTES, dive_name, dive_number, parse_dive_number


@dataclass
class AttributePrediction:
    """One attribute: the predicted class name, its probability and all class probabilities."""

    label: int
    name: str
    probability: float
    probabilities: list[float]


@dataclass
class Prediction:
    """Everything the model says about one video."""

    video: str
    score: float | None = None
    execution: float | None = None  # score_protocol with_dd: the predicted score / difficulty
    score_sigma: float | None = None  # the head's own uncertainty (gaussian, distribution heads)
    score_interval: list[float] | None = None  # [low, high], split-conformal at interval_level
    interval_level: float | None = None
    interval_note: str | None = None  # why there is no interval, when there is none
    # score_head=exemplar: spread (std) of the estimates over the exemplars (score units;
    # execution units for with_dd without a difficulty)
    score_spread: float | None = None
    attributes: dict[str, AttributePrediction] = field(default_factory=dict)
    dive_number: str | None = None
    dive_name: str | None = None
    caption: str | None = None
    clip_scores: list[float] = field(default_factory=list)  # each clip scored alone
    clip_contributions: list[float] = field(default_factory=list)  # score − score without clip k
    clip_frames: list[list[int]] = field(default_factory=list)  # frame indices of each clip

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    def _interval_text(self) -> str:
        if self.score_interval is not None and self.interval_level is not None:
            lo, hi = self.score_interval
            return f" ({self.interval_level * 100:g}%: {lo:.2f} – {hi:.2f})"
        return f"  ({self.interval_note})" if self.interval_note else ""

    def format(self) -> str:
        """A readable block for the terminal."""
        lines = [f"{self.video}"]
        if self.score is not None:
            lines.append(f"  {'score':<15}{self.score:.2f}{self._interval_text()}")
        if self.score_spread is not None:
            lines.append(f"  {'spread':<15}{self.score_spread:.2f}  (over the exemplars)")
        if self.execution is not None:
            lines.append(
                f"  {'execution':<15}{self.execution:.2f}  (score = execution × difficulty)"
            )
        if self.dive_number:
            lines.append(f"  {'dive':<15}{self.dive_number}  ({self.dive_name})")
        for k, a in self.attributes.items():
            lines.append(f"  {k:<15}{a.name:<18} p={a.probability:.2f}")
        if self.caption is not None:
            lines.append(f"  {'commentary':<15}{self.caption}")
        if self.clip_contributions:
            contrib = " ".join(f"{c:+.2f}" for c in self.clip_contributions)
            lines.append(f"  {'clips Δscore':<15}{contrib}")
        return "\n".join(lines)


class Predictor:
    """A trained model ready for videos: `load_model(path).predict("dive.mp4")`."""

    def __init__(
        self,
        checkpoint: str | os.PathLike[str],
        device: str = "auto",
        level: float = conformal.DEFAULT_LEVEL,
    ) -> None:
        ckpt = load_checkpoint(checkpoint)
        self.calibration: dict[str, Any] | None = ckpt.get("conformal")
        self.level = conformal.check_level(level)
        self.model, self.cfg, self.vocab, self.norm = model_from_checkpoint(ckpt, str(checkpoint))
        self.cfg.data.cache = "none"  # one read per video: nothing to keep (nor to write to disk)
        self.device = select_device(device)
        self.dtype = amp_dtype(self.device, self.cfg.train.amp)
        self.model.to(self.device).eval()
        self.model.channels_last = self.cfg.train.channels_last

    def predict(
        self,
        video: str | os.PathLike[str],
        end_frame: int | None = None,
        difficulty: float | None = None,
        level: float | None = None,
        dive: str | None = None,
    ) -> Prediction:
        """Predict one video; the dive is taken to end at `end_frame` (default: the last frame).

        `dive` (a FINA dive number, e.g. '5255B': the dive announced before it was performed)
        makes an exemplar model compare the video with exemplars of that dive instead of the
        predicted one (CoRe's protocol); the attribute table still shows what the model saw.

        A `with_dd` model predicts execution: the score is execution × `difficulty` when given, else
        only `execution` is filled (clip scores and contributions stay in execution units).
        The score interval is at `level` (default: the predictor's), when the checkpoint has a
        calibration.
        """
        if end_frame is not None and (isinstance(end_frame, bool) or end_frame < 1):
            raise MtlaqaError(f"{video}: end_frame must be a frame number >= 1, got {end_frame}")
        path = str(checked_path(video))
        announced = self._announced_types(dive)  # (1, 5) or None
        end = end_frame if end_frame is not None else count_frames(path)
        sample = Sample(id=Path(path).stem, video=path, end_frame=end)
        ds = DiveDataset([sample], self.cfg.data, self.model.input_spec, train=False)
        x = ds[0]["video"].unsqueeze(0).to(self.device)  # (1, K, 3, T, S, S)
        m = self.model
        with (
            inference_context(self.dtype),
            torch.autocast(
                self.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None
            ),
        ):
            feats = m.clip_features(x)  # (1, K, D)
            out = m.heads(feats, exemplar_types=announced)
            k = feats.shape[1]
            rows = feats.expand(k, *feats.shape[1:])  # row j: the video again, to mask clip j
            alone = torch.eye(k, dtype=torch.bool, device=feats.device)  # (K, K)
            # an exemplar head compares every variant with the whole video's exemplars
            types = None
            if "score_spread" in out and announced is not None:
                types = announced.expand(k, -1)  # (K, 5)
            elif "score_spread" in out and "attributes" in out:
                types = predicted_types(out["attributes"]).expand(k, -1)  # (K, 5)
            # each clip alone; all but clip j
            clip_out = m.heads(rows, alone, exemplar_types=types) if "score" in out else {}
            loo = m.heads(rows, ~alone, exemplar_types=types) if "score" in out and k > 1 else {}
            caption = (
                generate_commentary(m, {**out, "features": feats})[0]
                if "caption" in m.tasks
                else None
            )
        pred = Prediction(video=str(video))
        start = end - self.cfg.data.window
        pred.clip_frames = [[max(0, int(i) + start) for i in row] for row in ds.offsets]
        if "score" in out:
            self._fill_score(pred, out, clip_out, loo, difficulty, level)
        if "attributes" in out:
            _fill_attributes(pred, out["attributes"])
        if caption is not None and self.vocab is not None:
            pred.caption = self.vocab.decode(caption)
        return pred

    def check_dive(self, dive: str | None) -> None:
        """A one-line error when `dive` is not a FINA number or the model has no use for it."""
        self._announced_types(dive)

    def _announced_types(self, dive: str | None) -> torch.Tensor | None:
        """The dive types (1, 5) of FINA number `dive` for the exemplar choice, or None."""
        if dive is None:
            return None
        if not hasattr(self.model, "bank"):
            raise MtlaqaError(
                f"--dive {dive}: only an exemplar model (model.score_head=exemplar) uses the dive"
            )
        try:
            attrs = parse_dive_number(dive)
        except ValueError as e:
            raise MtlaqaError(f"--dive: {e}") from None
        row = [attrs[k] for k in ATTRIBUTE_CLASSES]
        return torch.tensor([row], dtype=torch.long, device=self.device)

    def _fill_score(
        self,
        pred: Prediction,
        out: dict[str, torch.Tensor],
        clip_out: dict[str, torch.Tensor],
        loo: dict[str, torch.Tensor],
        difficulty: float | None,
        level: float | None,
    ) -> None:
        """Score (or execution), its σ and interval, the exemplar spread and the clip scores."""
        s = float(self.norm.inverse(out["score"].float())[0])
        raw_sigma = out.get("score_sigma")
        sigma = float(raw_sigma.float()[0]) * self.norm.std if raw_sigma is not None else None
        if self.cfg.model.score_protocol == "with_dd":
            pred.execution = s
            pred.score = s * difficulty if difficulty else None
            sigma = sigma * difficulty if sigma is not None and difficulty else None
        else:
            pred.score = s
        self._interval(pred, sigma, self.level if level is None else level)
        if "score_spread" in out:
            sp = float(out["score_spread"].float()[0]) * self.norm.std
            with_dd = self.cfg.model.score_protocol == "with_dd"
            pred.score_spread = sp * difficulty if with_dd and difficulty else sp
        pred.clip_scores = [
            float(v) for v in self.norm.inverse(clip_out["score"].float()).flatten()
        ]
        if loo:
            pred.clip_contributions = [
                s - float(v) for v in self.norm.inverse(loo["score"].float())
            ]

    def _interval(self, pred: Prediction, sigma: float | None, level: float) -> None:
        """Fill score_sigma and the conformal interval (final-score units), or say why not."""
        pred.score_sigma = sigma
        if pred.score is None:  # with_dd without a difficulty: no final score to bound
            pred.interval_note = "no interval: give the difficulty for a final score"
            return
        if not self.calibration:
            pred.interval_note = conformal.NO_VAL_NOTE
            return
        pred.score_interval = conformal.interval_of(
            self.calibration, pred.score, sigma, conformal.check_level(level)
        )
        if pred.score_interval is None:
            n = self.calibration["n"]
            pred.interval_note = f"no interval: {n} calibration samples are too few for {level:g}"
        else:
            pred.interval_level = float(level)


def load_model(
    path: str | os.PathLike[str], device: str = "auto", level: float = conformal.DEFAULT_LEVEL
) -> Predictor:
    """Load a checkpoint (file or run folder) for prediction; intervals at `level`."""
    return Predictor(path, device, level)


def _fill_attributes(pred: Prediction, logits: dict[str, torch.Tensor]) -> None:
    """Each attribute's class and probabilities, the FINA dive number and its name."""
    labels = {}
    for name, lg in logits.items():
        p = lg.float().softmax(-1)[0]
        i = int(p.argmax())
        labels[name] = i
        pred.attributes[name] = AttributePrediction(i, ATTRIBUTES[name][i], float(p[i]), p.tolist())
    pred.dive_number = dive_number(**labels)
    pred.dive_name = dive_name(**labels)
