import pytest

from mtlaqa.config import config_from_dict, load_config, parse_override
from mtlaqa.errors import MtlaqaError


def test_presets_load_and_overrides_apply():
    cfg = load_config("demo", ["train.lr=3e-4", "model.tasks=[score]", "data.resize=[48,40]"])
    assert cfg.train.lr == pytest.approx(3e-4)
    assert cfg.model.tasks == ["score"]
    assert cfg.data.resize == [48, 40]
    paper = load_config("c3d_avg_mtl")
    assert (paper.data.num_clips, paper.data.clip_len, paper.data.crop_size) == (6, 16, 112)
    assert (paper.loss.score, paper.loss.attributes, paper.loss.caption) == (1.0, 1.0, 0.01)


def test_unknown_keys_and_bad_types_are_one_line_errors():
    with pytest.raises(MtlaqaError, match="unknown key 'train.lrr'"):
        load_config("demo", ["train.lrr=1"])
    with pytest.raises(MtlaqaError, match="train.epochs"):
        config_from_dict({"train": {"epochs": "many"}})
    with pytest.raises(MtlaqaError, match="no such config"):
        load_config("no_such_preset")
    with pytest.raises(MtlaqaError, match="key=value"):
        parse_override("train.lr")


def test_config_hash_is_stable_and_sensitive():
    a, b = load_config("demo"), load_config("demo")
    assert a.hash() == b.hash()
    assert load_config("demo", ["train.seed=1"]).hash() != a.hash()
