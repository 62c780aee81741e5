"""MSCADC: shapes at several input sizes, STL and MTL, a training step at batch size 1, and the
whole engine (fit -> predict -> evaluate) through `model.arch: mscadc`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mtlaqa.config import ModelConfig, load_config
from mtlaqa.data.synth.generate import generate_synthdive
from mtlaqa.engine import fit
from mtlaqa.evaluate import evaluate_checkpoint
from mtlaqa.losses import total_loss
from mtlaqa.models.archs import build_arch
from mtlaqa.models.mscadc import MSCADC
from mtlaqa.predict import load_model

torch.set_num_threads(1)


def narrow(tasks: list[str]) -> ModelConfig:
    return ModelConfig(arch="mscadc", width=0.125, tasks=tasks, caption_hidden=16, caption_embed=8)


@pytest.mark.parametrize(("frames", "size"), [(16, 64), (16, 48), (12, 40)])
def test_any_input_size(frames: int, size: int) -> None:
    model = build_arch(narrow(["score", "attributes"]), clip_len=frames, crop_size=size).eval()
    out = model(torch.randn(2, 1, 3, frames, size, size))
    assert out["score"].shape == (2,)
    assert {k: v.shape[1] for k, v in out["attributes"].items()} == {
        "position": 3, "armstand": 2, "rotation_type": 4, "ss_no": 10, "tw_no": 8,
    }  # fmt: skip
    assert out["features"].shape[:3] == (2, 1, model.backbone.out_channels)


def test_stl_has_only_the_score_head() -> None:
    model = build_arch(narrow(["score"]), clip_len=16, crop_size=48)
    assert isinstance(model, MSCADC)
    assert not hasattr(model, "attributes") and not hasattr(model, "caption")
    assert set(model(torch.randn(1, 1, 3, 16, 48, 48))) == {"score", "features"}


def test_context_net_consumes_its_padding() -> None:
    # 1×1 bottleneck padded by 1 (+2), replication pad 9, the unpadded context net: back to +2
    model = build_arch(narrow(["score"]), clip_len=16, crop_size=64)
    x = torch.randn(1, model.backbone.out_channels, 4, 8, 8)
    net = model.score_trunk.net
    pool = next(i for i, m in enumerate(net) if isinstance(m, torch.nn.MaxPool3d))
    y = net[:pool](x)  # up to and including the context net's last 1×1 conv, BN, ReLU
    assert y.shape[2:] == (6, 10, 10)


def test_original_shapes_at_180() -> None:
    """At the paper's 16×180×180 input: body 256×2×20×20, BatchNorm after each of the 5 context
    convs, the caption grid 12×1×10×10 (1200-d) without any adaptive pooling."""
    cfg = ModelConfig(arch="mscadc", width=1.0, tasks=["score", "caption"], caption_hidden=8)
    model = build_arch(cfg, clip_len=16, crop_size=180, vocab_size=5).eval()
    with torch.no_grad():
        maps = model.backbone(torch.randn(1, 3, 16, 180, 180))
        assert maps.shape == (1, 256, 2, 20, 20)
        net = model.score_trunk.net
        convs = [i for i, m in enumerate(net) if isinstance(m, torch.nn.Conv3d)]
        context = [i for i in convs if net[i].kernel_size == (3, 3, 3)][:5]
        assert len(context) == 5 and all(
            isinstance(net[i + 1], torch.nn.BatchNorm3d) for i in context
        )
        cap = model.caption
        grid = cap.conv(cap.trunk(maps))
        assert grid.shape == (1, 12, 2, 11, 11)
        assert cap.pool[0](grid).shape == (1, 12, 1, 10, 10)


def test_authors_c3d_small_file_loads(tmp_path: Path) -> None:
    """C3D_small_PyTorch_Trained_12.pth as the authors' body names it (conv1, bn1, …, conv5b,
    bn5b): every body tensor arrives through the key map; their classifier is unexpected."""
    from mtlaqa.models.weights import load_backbone_weights

    chans = [("1", 3, 32), ("2", 32, 64), ("3a", 64, 128), ("3b", 128, 128), ("4a", 128, 256),
             ("4b", 256, 256), ("5a", 256, 256), ("5b", 256, 256)]  # fmt: skip
    g = torch.Generator().manual_seed(0)
    state: dict[str, torch.Tensor] = {}
    for n, i, o in chans:
        state[f"conv{n}.weight"] = torch.randn(o, i, 3, 3, 3, generator=g)
        state[f"conv{n}.bias"] = torch.randn(o, generator=g)
        for t in ("weight", "bias", "running_mean"):
            state[f"bn{n}.{t}"] = torch.randn(o, generator=g)
        state[f"bn{n}.running_var"] = torch.rand(o, generator=g) + 0.5
        state[f"bn{n}.num_batches_tracked"] = torch.tensor(7)
    state["fc6.weight"], state["fc6.bias"] = torch.randn(16, 8, generator=g), torch.zeros(16)
    path = tmp_path / "C3D_small_PyTorch_Trained_12.pth"
    torch.save(state, path)
    model = build_arch(ModelConfig(arch="mscadc", tasks=["score"]), clip_len=16, crop_size=180)
    report = load_backbone_weights(model, path)
    assert len(report.loaded) == 8 * 7 and not report.missing
    assert report.unexpected == ["fc6.weight", "fc6.bias"]
    own = model.backbone.state_dict()
    assert torch.equal(own["conv3.3.weight"], state["conv3b.weight"])
    assert torch.equal(own["conv5.4.running_var"], state["bn5b.running_var"])
    assert torch.equal(own["conv1.1.num_batches_tracked"], state["bn1.num_batches_tracked"])


def test_too_small_clips_are_refused() -> None:
    from mtlaqa.errors import MtlaqaError

    with pytest.raises(MtlaqaError, match="at least 12 frames"):
        build_arch(narrow(["score"]), clip_len=8, crop_size=64)


def test_trains_a_step_at_batch_size_1() -> None:
    torch.manual_seed(0)
    model = build_arch(
        narrow(["score", "attributes", "caption"]), clip_len=16, crop_size=48, vocab_size=10
    )
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    video = torch.randn(1, 1, 3, 16, 48, 48)
    cap_in, cap_out = torch.tensor([[1, 5, 6]]), torch.tensor([[5, 6, 2]])
    target = {
        "score": torch.tensor([0.5]),
        "attributes": {
            k: torch.tensor([1])
            for k in ("position", "armstand", "rotation_type", "ss_no", "tw_no")
        },
        "caption_out": cap_out,
    }
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    loss, parts = total_loss(model(video, cap_in), target, load_config(None).loss)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert torch.isfinite(loss) and set(parts) == {"score", "attributes", "caption"}
    unchanged = {n for n, p in model.named_parameters() if torch.equal(before[n], p)}
    # the caption encoder takes ONE step from a zero state (one clip), so its recurrent weights
    # cannot get a gradient; everything else (body with BN at batch 1, three heads) must move
    assert unchanged == {
        "caption.decoder.encoder.weight_hh_l0",
        "caption.decoder.encoder.weight_hh_l1",
    }
    toks = model.caption.generate(model.eval()(video)["features"], max_len=4, beam=2)
    assert len(toks) == 1 and len(toks[0]) <= 4


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    generate_synthdive(root, num=10, size=48, workers=1, progress=False)
    return root


def test_engine_fit_predict_evaluate_with_dd(synth: Path, tmp_path: Path) -> None:
    overrides = [
        f"data.root={synth}",
        "data.num_clips=1", "data.clip_len=16", "data.stride=6",
        "data.resize=[48,48]", "data.crop_size=40",
        "model.arch=mscadc", "model.width=0.125", "model.tasks=score,attributes",
        "model.score_protocol=with_dd",
        "train.epochs=1", "train.batch_size=1", "train.device=cpu", "train.amp='off'",
        "train.channels_last=false",
    ]  # fmt: skip
    cfg = load_config("mscadc_mtl", overrides)
    result = fit(cfg, tmp_path, progress=False)
    assert result["meta"]["protocol"] == "with_dd"
    pred = result["predictions"]["last"]
    samples = {
        json.loads(line)["id"]: json.loads(line) for line in (synth / "manifest.jsonl").open()
    }
    for i, p, t, e in zip(
        pred["ids"], pred["score_pred"], pred["score_true"], pred["execution_pred"], strict=True
    ):
        dd = samples[i]["difficulty"]
        assert t == pytest.approx(samples[i]["score"], rel=1e-5)  # truth back in final-score units
        assert p == pytest.approx(e * dd, rel=1e-6)
    metrics = evaluate_checkpoint(
        tmp_path / "last.pt", synth, "test", "cpu", meteor=False, progress=False
    )
    assert metrics["protocol"] == "with_dd" and "score_spearman" in metrics
    video = next(s for s in samples.values() if s["split"] == "test")
    p = load_model(tmp_path / "last.pt", "cpu").predict(synth / video["video"], difficulty=2.0)
    assert p.execution is not None and p.score == pytest.approx(2.0 * p.execution)
    assert p.dive_number is not None
