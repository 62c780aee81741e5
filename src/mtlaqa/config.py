"""Nested dataclass configuration: YAML presets, `--set a.b=v` overrides, unknown keys are errors."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, get_args, get_origin, get_type_hints

import yaml

from mtlaqa.config_rules import check_value
from mtlaqa.errors import MtlaqaError
from mtlaqa.names import OLD_ARCHS, OLD_DATA_KEYS

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_T = TypeVar("_T", bound="DataclassInstance")  # a config dataclass

PRESET_DIR = Path(__file__).parent / "configs"


@dataclass
class DataConfig:
    """Where the data is and how samples become clips (design §1)."""

    root: str = ""  # dataset folder holding manifest.jsonl
    window: int = 103  # frames before end_frame that form the dive window
    jitter: int = 3  # training shift of end_frame, uniform in -jitter..+jitter
    num_clips: int = 6
    clip_len: int = 16
    stride: int = 1  # temporal stride inside the window (clips span num_clips*clip_len*stride)
    # window offset where each clip starts; [] = back to back from the window's start
    clip_starts: list[int] = field(default_factory=list)
    resize: list[int] = field(default_factory=lambda: [171, 128])  # W, H after decoding
    crop_size: int = 112  # side of the square crop in pixels (was data.crop)
    random_crop: bool = True
    flip: bool = True
    subtract_mean_frame: bool = False  # remove each video's static background
    short_video: str = "pad"  # pad | error: what to do when a video is shorter than the window
    min_frames: int = 16  # below this a video is refused even with short_video=pad
    cache: str = "memory"  # memory | disk | none: keep decoded windows after the first read
    cache_dir: str = ""  # disk cache folder; "" = <dataset>/.mtlaqa_cache or ~/.cache/mtlaqa
    num_workers: int = 0
    val_fraction: float = 0.1  # carved from train (seeded) when the dataset has no val split
    caption_min_count: int = 1


@dataclass
class ModelConfig:
    """Which network to build; stored in every checkpoint."""

    # multiclip (a backbone per clip -> aggregator over clips -> heads; was c3d_avg) | mscadc
    arch: str = "multiclip"
    backbone: str = "c3d"  # c3d | c3d_s | i3d | r3d_18 | r2plus1d_18
    width: float = 1.0  # channel multiplier of the backbone (narrow CPU variants < 1)
    backbone_norm: str = "none"  # none | batch (c3d: BatchNorm after each conv, from-scratch runs)
    backbone_weights: str | None = None  # local file of pretrained backbone weights
    freeze: str = "none"  # none | all | last_n (train only the last finetune_blocks blocks)
    finetune_blocks: int = 0  # with freeze=last_n: how many of the backbone's last blocks train
    score_protocol: str = "direct"  # direct (final score) | with_dd (execution × true difficulty)
    # direct | gaussian (mean, σ) | distribution (MUSDL-style bins) | exemplar (vs exemplars, CoRe)
    score_head: str = "direct"
    exemplars: int = 10  # score_head=exemplar: exemplars per query (bank: up to this per dive type)
    # score_head=exemplar at evaluation: `annotated` compares a dive with exemplars of its annotated
    # dive where it has one (CoRe's test protocol; the dive announced before it is performed), else
    # of the predicted dive; `predicted` always uses the attribute heads' prediction
    exemplar_pick: str = "annotated"
    aggregator: str = "mean"
    tasks: list[str] = field(default_factory=lambda: ["score", "attributes", "caption"])
    fc_dim: int = 4096
    dropout: float = 0.5
    caption_hidden: int = 512
    caption_embed: int = 512
    caption_layers: int = 2
    caption_max_len: int = 100  # words kept of each training caption and decoded at most
    caption_beam: int = 1  # beam width of caption decoding; 1 = greedy
    caption_length_alpha: float = 1.0  # beam ranking: log-probability / length**alpha
    # none: the paper's S2VT head | heads: the decoder also reads the score and attribute outputs
    caption_condition: str = "none"
    caption_condition_at: str = "step"  # heads: step (decoder input) | state (initial state)
    caption_condition_source: str = (
        "soft"  # heads: soft (probabilities) | teacher (truth in training)
    )
    caption_condition_detach: bool = True  # heads: the caption loss does not train the heads


@dataclass
class LossConfig:
    """Task weights: L = score·L_score + attributes·L_attributes + caption·L_caption."""

    score: float = 1.0
    attributes: float = 1.0
    caption: float = 0.01


@dataclass
class TrainConfig:
    """Optimisation and run settings (the paper: Adam, lr 1e-4, batch 3, 100 epochs)."""

    epochs: int = 100
    batch_size: int = 3
    lr: float = 1e-4
    backbone_lr: float | None = None  # learning rate of the backbone (None: the same as lr)
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    amp: str = "auto"  # auto | bf16 | fp16 | off
    channels_last: bool = True
    grad_clip: float = 0.0  # max gradient norm; 0 disables
    eval_captions_every: int = 0  # epochs between caption metrics on val (0: only at the end)
    threads: int = 0  # torch intra-op threads on CPU; 0 keeps torch's default
    accum_steps: int = 1  # micro-batches per optimizer step (global batch = batch·accum·world)
    schedule: str = "constant"  # constant (the paper) | cosine (cosine decay after warm-up)
    warmup_steps: int = 0  # linear warm-up in optimizer steps (both schedules)
    min_lr_ratio: float = 0.0  # cosine floor as a fraction of lr
    early_stop_patience: int = 0  # epochs without a val ρ gain before stopping; 0 disables
    checkpoint_every_steps: int = 0  # also write last.pt every N optimizer steps (0: per epoch)
    compile: bool = False  # torch.compile the model for training
    deterministic: bool = False  # torch.use_deterministic_algorithms (exact resume on CPU)
    tensorboard: bool = True  # also log to TensorBoard when the package is installed
    meteor: bool = True  # METEOR in the final test metrics (starts Java, ~10 s)
    caption_epochs: int = (
        0  # decoder-only epochs on frozen features after the joint ones (caption_stage.py)
    )
    caption_lr: float = 0.0  # learning rate of that stage (0: train.lr)
    caption_batch_size: int = 0  # dives per update of that stage (0: train.batch_size)
    caption_schedule: str = "constant"  # that stage's LR: constant | cosine (decays to 0)
    test_last: bool = True  # also stage and test the last epoch's weights when not the best


@dataclass
class Config:
    """The whole run configuration."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (YAML/JSON-ready)."""
        return dataclasses.asdict(self)

    def hash(self) -> str:
        """Short stable hash of the resolved config."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = get_origin(tp)
    args = get_args(tp)
    if origin is None and isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise MtlaqaError(f"config: '{where}' must be a mapping")
        return _build(tp, value, where)
    if type(None) in args:  # Optional[X]
        if value is None or value == "null":
            return None
        inner = [a for a in args if a is not type(None)][0]
        return _coerce(value, inner, where)
    if origin is list:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v] if value else []
        if not isinstance(value, list):
            raise MtlaqaError(f"config: '{where}' must be a list")
        return [_coerce(v, args[0], where) for v in value]
    try:
        if tp is bool:
            if isinstance(value, str):
                if value.lower() in ("true", "1", "yes", "on"):
                    return True
                if value.lower() in ("false", "0", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if tp is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if tp is float:
            return float(value)
        if tp is str:
            if isinstance(value, bool):  # YAML reads a bare off/on as a boolean
                return "on" if value else "off"
            return str(value)
    except (TypeError, ValueError):
        raise MtlaqaError(f"config: '{where}' expects {tp.__name__}, got {value!r}") from None
    return value


def _build(cls: type[_T], values: dict[str, Any], prefix: str = "") -> _T:
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        name = f"{prefix}.{sorted(unknown)[0]}" if prefix else sorted(unknown)[0]
        raise MtlaqaError(f"config: unknown key '{name}' (known: {', '.join(sorted(known))})")
    kwargs = {}
    for k, v in values.items():
        key = f"{prefix}.{k}" if prefix else k
        kwargs[k] = _coerce(v, hints[k], key)
        check_value(key, kwargs[k])
    return cls(**kwargs)


def _deprecated_keys(values: dict[str, Any]) -> dict[str, Any]:
    """Old configs and checkpoints: renamed keys and values (names.py), one warning line each.

    data.caption_max_len is now model.caption_max_len, data.crop is data.crop_size and
    model.arch c3d_avg is multiclip. Where one source has both names the new one wins (load_config
    upgrades the file and each override apart, so a later override wins whichever name it uses).
    """
    values = _moved(values, ("data", "caption_max_len"), ("model", "caption_max_len"))
    for old, new in OLD_DATA_KEYS.items():
        values = _moved(values, ("data", old), ("data", new))
    model = values.get("model")
    if isinstance(model, dict) and model.get("arch") in OLD_ARCHS:
        old_arch = model["arch"]
        values = {**values, "model": {**model, "arch": OLD_ARCHS[old_arch]}}
        _deprecated(f"model.arch={old_arch}", f"model.arch={OLD_ARCHS[old_arch]}")
    return values


def _moved(values: dict[str, Any], old: tuple[str, str], new: tuple[str, str]) -> dict[str, Any]:
    """`values` with section.key `old` moved to `new` (kept as it is when `new` is already set)."""
    section = values.get(old[0])
    if not isinstance(section, dict) or old[1] not in section:
        return values
    value = section[old[1]]
    values = {**values, old[0]: {k: v for k, v in section.items() if k != old[1]}}
    raw = values.get(new[0])
    target = raw if isinstance(raw, dict) else {}
    if new[1] not in target:
        values[new[0]] = {**target, new[1]: value}
    _deprecated(".".join(old), ".".join(new))
    return values


def _deprecated(old: str, new: str) -> None:
    logging.getLogger(__name__).warning(
        "config: %s is deprecated; %s is the one name (read as such)", old, new
    )


def config_from_dict(values: dict[str, Any]) -> Config:
    """Build a Config from a nested dict, refusing unknown keys and wrong types."""
    return _build(Config, _deprecated_keys(values or {}))


def _merge(base: dict[str, Any], update: dict[str, Any], where: str = "") -> dict[str, Any]:
    out = dict(base)
    for k, v in update.items():
        key = f"{where}.{k}" if where else k
        if isinstance(v, dict) and k in out and not isinstance(out[k], dict):
            # a YAML `train: 5` must not vanish under --set train.lr=…
            raise MtlaqaError(f"config: '{key}' must be a mapping, got {out[k]!r}")
        out[k] = (
            _merge(out[k], v, key) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        )
    return out


_SECTIONS = {f.name for f in dataclasses.fields(Config)}


def parse_override(text: str) -> dict[str, Any]:
    """'train.lr=3e-4' -> {'train': {'lr': 3e-4}} (the value is parsed as YAML)."""
    if "=" not in text:
        raise MtlaqaError(f"--set expects key=value, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        raise MtlaqaError(f"--set {key.strip()}: cannot parse the value {raw!r}") from None
    node: dict[str, Any] = {}
    parts = key.strip().split(".")
    cur = node
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = value
    return node


def resolve_preset(name_or_path: str) -> Path:
    """A YAML path, or the name of a preset shipped in mtlaqa/configs (e.g. 'demo')."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    preset = PRESET_DIR / f"{name_or_path}.yaml"
    if preset.is_file():
        return preset
    names = ", ".join(sorted(q.stem for q in PRESET_DIR.glob("*.yaml")))
    raise MtlaqaError(f"{name_or_path}: no such config file or preset (presets: {names})")


def read_yaml(path: Path) -> Any:
    """A YAML file's content; a one-line MtlaqaError for unreadable, non-UTF-8 or bad YAML."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as e:
        raise MtlaqaError(f"{path}: not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    except OSError as e:
        raise MtlaqaError(f"{path}: cannot read ({e.strerror})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise MtlaqaError(f"{path}: not valid YAML{where}: {what}") from None


def load_config(path: str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load a YAML preset/file (or defaults), apply `key=value` overrides, validate."""
    values: dict[str, Any] = {}
    if path:
        p = resolve_preset(path)
        loaded = read_yaml(p)
        if not isinstance(loaded, dict):
            raise MtlaqaError(f"{p}: a config file must be a mapping")
        values = _deprecated_keys(loaded)
        for sec, v in values.items():
            if v is not None and not isinstance(v, dict) and sec in _SECTIONS:
                raise MtlaqaError(f"{p}: '{sec}' must be a mapping of settings, got {v!r}")
    for o in overrides:
        values = _merge(values, _deprecated_keys(parse_override(o)))  # an old name overrides too
    return config_from_dict(values)


def save_config(cfg: Config, path: str | Path) -> Path:
    """Write the resolved config as YAML."""
    path = Path(path)
    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
    return path
