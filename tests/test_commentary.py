"""Issue 12: the paper's caption loss, one caption_max_len, grounded commentary, caption baselines."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mtlaqa.caption_baselines import (
    best_constant_caption,
    caption_diagnostics,
    cider_d_each,
    retrieval_captions,
)
from mtlaqa.config import config_from_dict, load_config
from mtlaqa.data.synth.caption import make_caption
from mtlaqa.data.vocab import Vocab
from mtlaqa.dive_mention import named_dive
from mtlaqa.errors import MtlaqaError
from mtlaqa.losses import caption_loss
from mtlaqa.metrics import tokenize_caption
from mtlaqa.models.build import build_model
from mtlaqa.models.grounding import generate_commentary

from .conftest import TINY


def test_caption_loss_is_summed_token_nll_over_the_batch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 6, generator=g)
    target = torch.tensor([[3, 4, 2, 0], [5, 2, 0, 0]])  # 3 and 2 real tokens, then padding
    logp = logits.log_softmax(-1)
    by_hand = (
        -(logp[0, 0, 3] + logp[0, 1, 4] + logp[0, 2, 2] + logp[1, 0, 5] + logp[1, 1, 2]) / 2
    )  # Σ token NLL / B
    assert caption_loss(logits, target).item() == pytest.approx(by_hand.item(), rel=1e-6)
    # not the per-token mean of the old loss
    mean = F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=0)
    assert caption_loss(logits, target).item() == pytest.approx(mean.item() * 5 / 2, rel=1e-6)
    # a row without a caption (all padding) is not counted in B
    with_empty = torch.cat([target, torch.zeros(1, 4, dtype=torch.long)])
    lg3 = torch.cat([logits, torch.randn(1, 4, 6, generator=g)])
    assert caption_loss(lg3, with_empty).item() == pytest.approx(by_hand.item(), rel=1e-6)


def test_one_caption_max_len_key_and_the_old_one_still_loads(caplog):
    assert load_config("c3d_avg_mtl").model.caption_max_len == 100
    assert load_config("mscadc_mtl").model.caption_max_len == 100
    assert not hasattr(load_config().data, "caption_max_len")
    with caplog.at_level(logging.WARNING):
        old = config_from_dict({"data": {"caption_max_len": 30}})
    assert old.model.caption_max_len == 30
    assert "deprecated" in caplog.text and "model.caption_max_len" in caplog.text
    both = config_from_dict({"data": {"caption_max_len": 30}, "model": {"caption_max_len": 50}})
    assert both.model.caption_max_len == 50


@pytest.mark.parametrize("seed", range(40))
def test_named_dive_reads_back_every_synthdive_phrasing(seed):
    rng = np.random.default_rng(seed)
    d = {
        "position": int(rng.integers(3)),
        "armstand": int(rng.integers(2)),
        "rotation_type": int(rng.integers(4)),
        "ss_no": int(rng.integers(1, 10)),
        "tw_no": int(rng.integers(0, 8)),
        "height": int(rng.integers(10)),
        "quality": float(rng.random()),
        "flaws": {
            "entry_angle": float(rng.normal(0, 20)),
            "splash": float(rng.random()),
            "legs_apart": float(rng.random() * 30),
            "knees_bent": float(rng.random() * 30),
            "takeoff": float(rng.normal(0, 0.5)),
        },
    }
    caption = make_caption(d, rng)
    labels = {k: d[k] for k in ("position", "armstand", "rotation_type", "ss_no", "tw_no")}
    assert named_dive(caption) == labels
    # the vocabulary's decoded form (no punctuation) reads the same
    v = Vocab.build([caption])
    assert named_dive(v.decode(v.encode(caption, 100)[1:])) == labels


def test_named_dive_none_without_a_full_dive_name():
    assert named_dive("a big splash , a good dive") is None
    assert named_dive("the back two somersaults") is None  # no position
    assert named_dive("inward a half somersault tucked") == {
        "position": 2,
        "armstand": 0,
        "rotation_type": 2,
        "ss_no": 1,
        "tw_no": 0,
    }


def test_fast_cider_matches_pycocoevalcap_and_picks_the_typical_caption():
    from pycocoevalcap.cider.cider import Cider

    caps = [
        "the forward dive in pike a small splash",
        "the forward dive in tuck a small splash",
        "the back dive in pike a big splash",
        "the forward dive in pike a big splash",
        "an inward dive tucked with lots of water",
        "the forward dive in pike a small splash good",
    ]
    fast = cider_d_each(caps)
    # pycocoevalcap with the same document frequencies: every caption once as a reference image
    for c in range(len(caps)):
        gts = {str(i): [tokenize_caption(r)] for i, r in enumerate(caps)}
        res = {k: [tokenize_caption(caps[c])] for k in gts}
        full, per = Cider().compute_score(gts, res)
        others = [s for i, s in enumerate(per) if i != c]
        assert fast[c] == pytest.approx(float(np.mean(others)), rel=1e-6)
    assert best_constant_caption(caps) == caps[int(np.argmax(fast))]
    assert best_constant_caption(caps) != "an inward dive tucked with lots of water"


def test_retrieval_takes_the_predicted_dive_then_the_nearest_score():
    train_attrs = {"position": np.array([0, 1, 1, 2]), "armstand": np.array([0, 0, 0, 1])}
    train_scores = np.array([50.0, 40.0, 80.0, 60.0])
    caps = ["free", "pike low", "pike high", "tuck armstand"]
    pred_attrs = {"position": np.array([1, 1, 2, 0]), "armstand": np.array([0, 0, 0, 0])}
    got = retrieval_captions(
        train_attrs, train_scores, caps, pred_attrs, np.array([75.0, 45.0, 59.0, 90.0])
    )
    # row 3: tuck without armstand exists nowhere: one attribute off (tuck armstand / pike / free)
    assert got[:3] == ["pike high", "pike low", "tuck armstand"]
    assert got[3] == "free"


def test_retrieval_by_score_alone_when_there_is_no_attribute_head():
    # model.tasks=[score, caption] (a row of the STL-vs-MTL grid): no predicted attributes
    caps = ["low", "mid", "high"]
    got = retrieval_captions({}, np.array([20.0, 50.0, 80.0]), caps, {}, np.array([78.0, 21.0]))
    assert got == ["high", "low"]


def test_caption_diagnostics_count_distinct_and_named_dives():
    hyps = [
        "the back a half somersault in pike , nice",
        "the back a half somersault in pike , nice",
        "the forward one somersault tucked",
        "a splash",
    ]
    pred = {"position": [1, 1, 2, 2], "armstand": [0] * 4, "rotation_type": [0, 0, 0, 1]}
    pred |= {"ss_no": [1, 1, 2, 2], "tw_no": [0] * 4}
    true = {**pred, "position": [1, 0, 2, 2]}
    d = caption_diagnostics(hyps, {k: np.array(v) for k, v in pred.items()}, true)
    assert d["caption_distinct"] == pytest.approx(3 / 4)
    assert d["caption_dive_named"] == pytest.approx(3 / 4)
    assert d["caption_dive_agree_pred"] == pytest.approx(
        2 / 4
    )  # row 2 says back, predicted forward
    assert d["caption_dive_agree_true"] == pytest.approx(1 / 4)


def _tiny_model(*extra: str):
    cfg = load_config("demo", [*TINY, *extra])
    return build_model(cfg, Vocab.build(["a b c d", "e f g"])), cfg


@pytest.mark.parametrize("at", ["step", "state"])
@pytest.mark.parametrize("detach", [True, False])
def test_grounded_caption_reads_the_heads(at, detach):
    torch.manual_seed(0)
    model, _ = _tiny_model(
        "model.caption_condition=heads",
        "model.caption_condition_source=soft",
        f"model.caption_condition_at={at}",
        f"model.caption_condition_detach={detach}",
    )
    video = torch.randn(2, 3, 3, 4, 32, 32)
    out = model(video, torch.tensor([[1, 4, 5, 2], [1, 6, 2, 0]]))
    out["caption"].sum().backward()
    grad = model.attributes.heads["position"].weight.grad
    assert (grad is not None and grad.abs().sum() > 0) is not detach
    # the commentary changes when only the heads' outputs change
    model.eval()
    with torch.no_grad():
        o = model.heads(out["features"].detach())
        o["features"] = out["features"].detach()
        a = model.caption.generate(o["features"], 6, cond=torch.zeros(2, 28))
        b = model.caption.generate(o["features"], 6, cond=torch.full((2, 28), 5.0))
        assert generate_commentary(model, o)  # decodes from the model's own heads
    logits_a = model.caption(
        o["features"], torch.tensor([[1, 4]]).expand(2, -1), torch.zeros(2, 28)
    )
    logits_b = model.caption(
        o["features"], torch.tensor([[1, 4]]).expand(2, -1), torch.full((2, 28), 5.0)
    )
    assert not torch.allclose(logits_a, logits_b)
    assert isinstance(a, list) and isinstance(b, list)


def test_caption_condition_none_is_the_plain_head_and_bad_values_are_errors():
    plain, _ = _tiny_model("model.caption_condition=none")
    assert plain.caption.cond_dim == 0
    with pytest.raises(MtlaqaError, match="caption_condition"):
        _tiny_model("model.caption_condition=words")
    with pytest.raises(MtlaqaError, match="needs the score or attributes"):
        _tiny_model("model.caption_condition=heads", "model.tasks=[caption]")


def test_teacher_condition_is_the_true_dive_in_training_and_the_predicted_one_at_inference():
    from mtlaqa.models.grounding import condition_vector
    from mtlaqa.schema import ATTRIBUTE_CLASSES

    model, cfg = _tiny_model(
        "model.caption_condition=heads", "model.caption_condition_source=teacher"
    )
    torch.manual_seed(0)
    out = model(torch.randn(2, 3, 3, 4, 32, 32))
    truth = {
        "score": torch.tensor([0.5, float("nan")]),
        "attributes": {k: torch.tensor([n - 1, -1]) for k, n in ATTRIBUTE_CLASSES.items()},
    }
    train = condition_vector(out, cfg.model, truth)
    infer = condition_vector(out, cfg.model)
    col = 0
    for name, n in ATTRIBUTE_CLASSES.items():
        pred = out["attributes"][name].argmax(-1)
        assert train[0, col : col + n].tolist() == [0.0] * (n - 1) + [1.0]  # the true class
        assert int(train[1, col : col + n].argmax()) == int(pred[1])  # unknown: the predicted
        assert train[1, col : col + n].sum() == 1.0
        assert infer[:, col : col + n].argmax(-1).tolist() == pred.tolist()
        assert (infer[:, col : col + n].sum(-1) == 1.0).all()  # one-hot, not probabilities
        col += n
    assert train[0, -1] == 0.5 and train[1, -1] == out["score"][1]  # true score where known
    assert torch.equal(infer[:, -1], out["score"].float())
