"""The registries: duplicates raise, unknown options are refused by name, the names are listed."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner
from torch import nn

from mtlaqa.commands.model import model as model_group
from mtlaqa.errors import MtlaqaError
from mtlaqa.models.archs import ARCHS, arch_names, register_arch
from mtlaqa.models.mtl import MTLModel
from mtlaqa.models.registry import (
    aggregator_names,
    backbone_names,
    backbone_options,
    register_aggregator,
    register_backbone,
)
from mtlaqa.models.score_heads import SCORE_HEADS, DirectHead, score_head_names
from mtlaqa.registry import Registry


def test_a_duplicate_name_raises_and_keeps_the_first() -> None:
    table: Registry[type[nn.Module]] = Registry("thing")
    table.add("a", nn.Identity)
    with pytest.raises(MtlaqaError, match="thing 'a' is already registered"):
        table.add("a", nn.ReLU)
    assert table["a"] is nn.Identity and table.names() == ["a"]


def test_builtin_registries_refuse_a_second_registration() -> None:
    backbone_names()  # the built-ins are registered
    with pytest.raises(MtlaqaError, match="backbone 'c3d' is already registered"):
        register_backbone("c3d")(lambda clip_len=16, crop_size=112, width=1.0: nn.Identity())
    with pytest.raises(MtlaqaError, match="aggregator 'mean' is already registered"):
        register_aggregator("mean")(lambda dim: nn.Identity())
    with pytest.raises(MtlaqaError, match="model.arch 'mscadc' is already registered"):
        register_arch("mscadc", MTLModel)
    with pytest.raises(MtlaqaError, match="model.score_head 'direct' is already registered"):
        SCORE_HEADS.add("direct", DirectHead)
    assert ARCHS.names() == arch_names()


def test_options_come_from_the_signature() -> None:
    table: Registry[object] = Registry("widget")
    table.add("fixed", lambda size, depth=2: (size, depth))
    table.add("open", lambda **kw: sorted(kw))
    assert table.options("fixed") == {"size", "depth"} and table.options("open") is None
    assert table.build("fixed", size=3) == (3, 2)
    assert table.build("open", x=1, y=2) == ["x", "y"]
    with pytest.raises(MtlaqaError, match=r"widget 'fixed' does not use option 'norm' \(it takes"):
        table.build("fixed", size=3, norm="batch")
    with pytest.raises(MtlaqaError, match="unknown widget 'nope'; choose one of: fixed, open"):
        table.build("nope")


def test_only_c3d_reads_backbone_norm() -> None:
    readers = {n for n in backbone_names() if "norm" in (backbone_options(n) or {"norm"})}
    assert readers == {"c3d"}


def test_model_list_prints_every_registered_name() -> None:
    result = CliRunner().invoke(model_group, ["list"])
    assert result.exit_code == 0, result.output
    for name in [*arch_names(), *backbone_names(), *aggregator_names(), *score_head_names()]:
        assert name in result.output
    assert "c3d          options: clip_len, crop_size, norm, width" in result.output


def test_the_data_layer_does_not_import_the_models() -> None:
    code = (
        "import importlib, pkgutil, sys, mtlaqa.data\n"
        "for m in pkgutil.walk_packages(mtlaqa.data.__path__, 'mtlaqa.data.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted(m for m in sys.modules if m.startswith('mtlaqa.models')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
