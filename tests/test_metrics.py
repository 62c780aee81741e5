"""Tests for mtlaqa.metrics: known values, edge cases, METEOR handling."""

from __future__ import annotations

import math
import shutil
import subprocess
import warnings

import numpy as np
import pytest

from mtlaqa import meteor
from mtlaqa.metrics import (
    attribute_metrics,
    caption_metrics,
    class_only_baseline,
    format_table,
    score_metrics,
    tokenize_caption,
)

# --------------------------------------------------------------------------------------- score


def test_score_perfect_and_reversed_ranking():
    true = np.array([10.0, 20.0, 35.0, 50.0, 80.0])
    perfect = score_metrics(true**1.5, true)  # monotone, not linear: ρ = 1, r < 1
    assert perfect["score_spearman"] == pytest.approx(1.0)
    assert perfect["score_pearson"] < 0.999
    reversed_ = score_metrics(-true, true)
    assert reversed_["score_spearman"] == pytest.approx(-1.0)
    assert reversed_["score_pearson"] == pytest.approx(-1.0)


def test_score_mae_and_r_l2_hand_computed():
    # range of true = 4; errors 1, 0, 1 -> 100 * mean([1/16, 0, 1/16]) = 100/24
    m = score_metrics(np.array([1.0, 2.0, 5.0]), np.array([0.0, 2.0, 4.0]))
    assert m["score_mae"] == pytest.approx(2.0 / 3.0)
    assert m["score_r_l2"] == pytest.approx(100.0 / 24.0)


def test_score_r_l2_uses_range_of_true_not_pred():
    m = score_metrics(np.array([0.0, 100.0]), np.array([0.0, 10.0]))
    assert m["score_r_l2"] == pytest.approx(100.0 * np.mean([0.0, (90.0 / 10.0) ** 2]))


def test_score_degenerate_inputs_give_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = score_metrics(np.array([3.0]), np.array([5.0]))
        const_pred = score_metrics(np.array([1.0, 1.0, 1.0]), np.array([1.0, 2.0, 3.0]))
        const_true = score_metrics(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0]))
        empty = score_metrics(np.array([]), np.array([]))
    assert (
        math.isnan(one["score_spearman"])
        and math.isnan(one["score_pearson"])
        and one["score_mae"] == 2.0
    )
    assert math.isnan(one["score_r_l2"])  # zero range
    assert math.isnan(const_pred["score_spearman"]) and const_pred["score_mae"] == pytest.approx(
        1.0
    )
    assert math.isnan(const_true["score_spearman"]) and math.isnan(const_true["score_r_l2"])
    assert all(math.isnan(v) for v in empty.values())


def test_score_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        score_metrics(np.zeros(3), np.zeros(4))


# ---------------------------------------------------------------------------------- attributes

TRUE = {
    "position": np.array([0, 1, 1, 2]),
    "armstand": np.array([0, 0, 1, 0]),
    "rotation_type": np.array([1, 1, 2, 3]),
    "ss_no": np.array([3, 5, 5, 7]),
    "tw_no": np.array([0, 0, 0, 2]),
}
PRED = {
    "position": np.array([0, 1, 2, 2]),  # sample 2 wrong
    "armstand": np.array([0, 0, 0, 0]),  # sample 2 wrong
    "rotation_type": np.array([1, 1, 2, 3]),
    "ss_no": np.array([3, 5, 5, 6]),  # sample 3 wrong
    "tw_no": np.array([0, 0, 0, 2]),
}


def test_attribute_accuracy_and_whole_dive():
    m = attribute_metrics(PRED, TRUE)
    assert m["attributes_acc_position"] == pytest.approx(0.75)
    assert m["attributes_acc_armstand"] == pytest.approx(0.75)
    assert m["attributes_acc_rotation_type"] == pytest.approx(1.0)
    assert m["attributes_acc_ss_no"] == pytest.approx(0.75)
    assert m["attributes_acc_tw_no"] == pytest.approx(1.0)
    assert m["attributes_acc_whole_dive"] == pytest.approx(0.5)  # samples 0 and 1 fully right
    assert m["attributes_majority_position"] == pytest.approx(0.5)  # class 1 twice
    assert m["attributes_majority_armstand"] == pytest.approx(0.75)
    assert m["attributes_majority_whole_dive"] == pytest.approx(0.25)  # four distinct dives


def test_attribute_majority_from_training_labels():
    train = {"position": np.array([2, 2, 2, 0]), "armstand": np.array([1, 1, 0])}
    m = attribute_metrics(PRED, TRUE, majority_from=train)
    assert m["attributes_majority_position"] == pytest.approx(
        0.25
    )  # training majority 2, once here
    assert m["attributes_majority_armstand"] == pytest.approx(
        0.25
    )  # training majority 1, once here
    assert m["attributes_majority_ss_no"] == pytest.approx(
        0.5
    )  # no training labels: this split's own


def test_attribute_unlabelled_and_partial():
    true = {"position": np.array([-1, 1, 2])}
    pred = {"position": np.array([0, 1, 0]), "armstand": np.array([0, 0, 0])}
    m = attribute_metrics(pred, true)
    assert m["attributes_acc_position"] == pytest.approx(0.5)
    assert "attributes_acc_armstand" not in m and "attributes_acc_whole_dive" not in m


# ------------------------------------------------------------------------------------ baseline


def test_class_only_baseline():
    a, b = (0, 0, 1, 3, 0), (1, 0, 1, 5, 0)
    train_types = [a, a, b]
    scores = np.array([10.0, 20.0, 60.0])
    out = class_only_baseline(train_types, scores, [a, b, (2, 1, 0, 7, 4), b])
    np.testing.assert_allclose(out, [15.0, 60.0, 30.0, 60.0])  # unseen -> global mean 30


def test_class_only_baseline_rejects_mismatch():
    with pytest.raises(ValueError):
        class_only_baseline([(0, 0, 0, 0, 0)], np.array([1.0, 2.0]), [])


# ------------------------------------------------------------------------------------ captions

CAPS = {
    "a": "an inward two and a half somersaults in the pike position",
    "b": "a very good entry into the water from the chinese diver",
    "c": "she scores nine points for that reverse dive with a twist",
}


def test_tokenize_caption():
    assert tokenize_caption("<sos> What a DIVE, isn't it?! <eos>") == "what a dive isnt it"
    assert tokenize_caption(["<sos>", "The", "Tuck.", "<eos>"]) == "the tuck"
    assert tokenize_caption("") == ""


def test_caption_identical_and_unrelated():
    refs = {k: [v] for k, v in CAPS.items()}
    same = caption_metrics({k: v.upper() + "." for k, v in CAPS.items()}, refs, meteor=False)
    assert same["caption_bleu_4"] == pytest.approx(1.0, abs=1e-6)
    assert same["caption_bleu_1"] == pytest.approx(1.0, abs=1e-6)
    assert same["caption_rouge_l"] == pytest.approx(1.0)
    assert same["caption_cider"] > 1.0
    assert math.isnan(same["caption_meteor"])
    other = {"a": "zebra xylophone quartz", "b": "blue moon rising", "c": "lorem ipsum dolor"}
    diff = caption_metrics(other, refs, meteor=False)
    assert diff["caption_bleu_1"] < 1e-6 and diff["caption_bleu_4"] < 1e-6
    assert diff["caption_rouge_l"] == 0.0 and diff["caption_cider"] == pytest.approx(0.0)


def test_caption_empty_hypotheses_do_not_crash():
    refs = {k: [v] for k, v in CAPS.items()}
    m = caption_metrics({"a": "", "b": CAPS["b"], "c": "<eos>"}, refs, meteor=False)
    assert 0.0 < m["caption_bleu_1"] <= 1.0 and m["caption_cider"] > 0.0
    empty = caption_metrics({k: "" for k in CAPS}, refs, meteor=False)
    assert empty["caption_bleu_1"] < 1e-6 and empty["caption_cider"] == 0.0
    assert all(math.isnan(v) for v in caption_metrics({}, refs).values())


def test_caption_missing_reference_is_an_error():
    with pytest.raises(ValueError, match="no references"):
        caption_metrics({"zzz": "a dive"}, {"a": ["a dive"]}, meteor=False)


@pytest.fixture
def no_meteor_process():
    """Each test starts without a METEOR process or warning, and leaves none behind."""
    meteor.close_meteor()
    yield
    meteor.close_meteor()


@pytest.fixture
def started(monkeypatch) -> list[subprocess.Popen]:
    """Every process started through subprocess.Popen during the test, in order."""
    procs: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def spy(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        procs.append(proc)
        return proc

    monkeypatch.setattr(subprocess, "Popen", spy)
    return procs


def test_meteor_without_java_is_nan_with_one_warning(monkeypatch, no_meteor_process):
    monkeypatch.setattr(meteor.shutil, "which", lambda name: None)
    monkeypatch.setattr(meteor, "_warned", False)
    refs = {k: [v] for k, v in CAPS.items()}
    with pytest.warns(RuntimeWarning, match="METEOR skipped.*Java"):
        m = caption_metrics(dict(CAPS), refs)
    assert math.isnan(m["caption_meteor"]) and m["caption_bleu_4"] == pytest.approx(1.0, abs=1e-6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        caption_metrics(dict(CAPS), refs)
    assert not [w for w in caught if "METEOR" in str(w.message)]  # warned once only


def test_meteor_java_that_fails_to_start_is_nan(monkeypatch, tmp_path, no_meteor_process):
    monkeypatch.setattr(meteor.shutil, "which", lambda name: str(tmp_path / "no-java"))
    monkeypatch.setattr(meteor, "_warned", False)
    with pytest.warns(RuntimeWarning, match="could not start Java"):
        m = caption_metrics({"a": CAPS["a"]}, {"a": [CAPS["a"]]})
    assert math.isnan(m["caption_meteor"])


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="needs Java")
def test_meteor_real_one_jvm_reused_then_closed(started, no_meteor_process):
    refs = {k: [v] for k, v in CAPS.items()}
    hyps = dict(CAPS, c="zebra xylophone quartz")
    m = caption_metrics(hyps, refs, tokenizer="light")
    assert 0.0 < m["caption_meteor"] < 1.0  # two exact matches, one miss
    again = caption_metrics(dict(CAPS), refs, tokenizer="light")
    assert again["caption_meteor"] > m["caption_meteor"]  # all exact now
    assert caption_metrics(hyps, refs, tokenizer="light")["caption_meteor"] == m["caption_meteor"]
    # one METEOR JVM served all three calls and is still up; close_meteor ends it
    assert len(started) == 1 and started[0].poll() is None
    meteor.close_meteor()
    assert started[0].poll() is not None


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="needs Java")
def test_meteor_killed_process_is_restarted(no_meteor_process):
    refs = {k: [v] for k, v in CAPS.items()}
    first = caption_metrics(dict(CAPS), refs, tokenizer="light")["caption_meteor"]
    assert meteor._proc is not None
    meteor._proc.kill()
    meteor._proc.wait()
    assert caption_metrics(dict(CAPS), refs, tokenizer="light")["caption_meteor"] == first


# -------------------------------------------------------------------------------------- tables


def test_format_table_alignment_and_nan():
    text = format_table(
        [("score_spearman", 0.5), ("score_mae", float("nan")), ("score_r_l2", 12.3456789)],
        header=["metric", "value"],
        digits=3,
    )
    lines = text.splitlines()
    assert lines[0].split() == ["metric", "value"]
    assert lines[2].endswith("0.500") and lines[3].endswith("–") and lines[4].endswith("12.346")
    assert len(lines[2]) == len(lines[4])  # numbers right-aligned to one column edge
    nested = format_table(
        {"last": {"score_spearman": 0.1}, "best": {"score_spearman": 0.2, "score_mae": 3}}
    )
    assert nested.splitlines()[0].split() == ["metric", "last", "best"]
    assert "score_mae" in nested and nested.splitlines()[-1].endswith("3")


def test_caption_accepts_release_token_lists():
    refs = {k: [["<sos>", *v.split(), "<eos>"]] for k, v in CAPS.items()}
    hyps = {k: ["<sos>", *v.split(), "<eos>"] for k, v in CAPS.items()}
    m = caption_metrics(hyps, refs, meteor=False)
    assert m["caption_bleu_4"] == pytest.approx(1.0, abs=1e-6) and m[
        "caption_rouge_l"
    ] == pytest.approx(1.0)


# ------------------------------------------------------------------------- PTB tokenization


@pytest.mark.skipif(shutil.which("java") is None, reason="needs Java")
def test_ptb_tokenization_is_coco_captions():
    from mtlaqa.ptb import ptb_tokenize

    got = ptb_tokenize(["What a DIVE, isn't it.", "", "the tuck."])
    assert got == ["what a dive is n't it", "", "the tuck"]  # PTB splits n't; punctuation dropped
    refs = {"a": ["what a dive is n't it"]}
    ptb = caption_metrics({"a": "What a dive, isn't it?"}, refs, meteor=False)
    light = caption_metrics({"a": "What a dive, isn't it?"}, refs, meteor=False, tokenizer="light")
    assert ptb["caption_bleu_4"] == pytest.approx(1.0, abs=1e-6)  # the same tokens as the reference
    assert light["caption_bleu_4"] < 0.5  # "isnt it" against "is n't it"


def test_ptb_falls_back_to_the_regex_with_one_warning(monkeypatch, tmp_path):
    from mtlaqa import ptb

    monkeypatch.setenv("PATH", str(tmp_path))  # no java
    monkeypatch.setattr(ptb, "_warned", False)
    refs = {k: [v] for k, v in CAPS.items()}
    with pytest.warns(RuntimeWarning, match="PTB tokenization unavailable.*light regex"):
        m = caption_metrics({k: v.upper() + "." for k, v in CAPS.items()}, refs, meteor=False)
    assert m["caption_bleu_4"] == pytest.approx(1.0, abs=1e-6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        caption_metrics(dict(CAPS), refs, meteor=False)
    assert not [w for w in caught if "PTB" in str(w.message)]  # warned once only


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="needs Java")
def test_meteor_prestarted_process_is_the_one_that_scores(started, no_meteor_process):
    meteor.prestart_meteor()  # returns at once; the JVM loads in the background
    assert len(started) == 1 and started[0].poll() is None
    refs = {k: [v] for k, v in CAPS.items()}
    assert caption_metrics(dict(CAPS), refs, tokenizer="light")["caption_meteor"] > 0.9
    assert len(started) == 1
