"""score_head=exemplar (issue 16): pairing rule, bank selection, checkpoint round trip, protocols."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from mtlaqa.config import load_config
from mtlaqa.data.exemplars import ExemplarPairing, bank_indices, nearest_types
from mtlaqa.data.manifest import Sample, read_manifest
from mtlaqa.errors import MtlaqaError
from mtlaqa.models.exemplar import ExemplarBank, ExemplarHead
from tests.conftest import TINY

ATTRS = ("position", "armstand", "rotation_type", "ss_no", "tw_no")


def _sample(i: int, t: tuple[int, ...], score: float | None = 50.0) -> Sample:
    return Sample(id=f"s{i}", score=score, difficulty=2.0, **dict(zip(ATTRS, t, strict=True)))


A, B, NEAR_B, FAR = (0, 0, 0, 1, 0), (1, 0, 1, 2, 0), (1, 0, 1, 2, 1), (2, 1, 3, 5, 4)


def _pool() -> list[Sample]:
    # type A ×3, type B ×1 (a singleton), NEAR_B ×2 (one attribute from B), FAR ×1, an unscored A
    types = [A, A, A, B, NEAR_B, NEAR_B, FAR]
    return [_sample(i, t) for i, t in enumerate(types)] + [_sample(7, A, score=None)]


def test_pairing_same_dive_else_nearest_type() -> None:
    samples = _pool()
    pairing = ExemplarPairing(samples, seed=0)
    for epoch in range(1, 30):
        for i in (0, 1, 2):  # type A: another scored A, never itself nor the unscored one
            assert pairing.exemplar(i, epoch) in {0, 1, 2} - {i}
        assert pairing.exemplar(3, epoch) in {4, 5}  # B has no other dive: the nearest type
        assert pairing.exemplar(6, epoch) != 6
    assert pairing.same_type[:3] == [True] * 3 and not pairing.same_type[3]
    # the unscored query still gets a scored exemplar of its type
    assert all(pairing.exemplar(7, e) in {0, 1, 2} for e in range(1, 10))


def test_pairing_is_deterministic_per_seed_and_epoch() -> None:
    samples = _pool()
    a, b = ExemplarPairing(samples, seed=0), ExemplarPairing(samples, seed=0)
    draws = [[a.exemplar(i, e) for i in range(8)] for e in range(1, 20)]
    assert draws == [[b.exemplar(i, e) for i in range(8)] for e in range(1, 20)]
    assert len({tuple(d) for d in draws}) > 1  # the pairs change between epochs
    other = ExemplarPairing(samples, seed=1)
    assert draws != [[other.exemplar(i, e) for i in range(8)] for e in range(1, 20)]


def test_nearest_types_ties_and_refusal() -> None:
    assert nearest_types(B, [A, NEAR_B, FAR]) == [NEAR_B]
    assert nearest_types((0, 0, 0, 0, 0), [(1, 0, 0, 0, 0), (0, 1, 0, 0, 0)]) == [
        (0, 1, 0, 0, 0),
        (1, 0, 0, 0, 0),
    ]
    with pytest.raises(MtlaqaError, match="two scored"):
        ExemplarPairing([_sample(0, A)], seed=0)


def test_bank_indices_per_type_and_deterministic() -> None:
    samples = [_sample(i, A) for i in range(6)] + [_sample(6, B), _sample(7, B, score=None)]
    idx = bank_indices(samples, per_type=4, seed=0)
    assert idx == bank_indices(samples, per_type=4, seed=0)
    assert len(idx) == 5 and idx[-1] == 6  # 4 of type A, then the one scored B
    assert set(idx[:4]) < set(range(6))
    many = [_sample(i, A) for i in range(40)]
    assert bank_indices(many, 4, seed=0) != bank_indices(many, 4, seed=1)  # seeded draw
    with pytest.raises(MtlaqaError, match="exemplars"):
        bank_indices(samples, per_type=0, seed=0)


def test_bank_pick_same_type_nearest_and_untyped() -> None:
    bank = ExemplarBank(dim=2)
    types = torch.tensor([A, A, A, NEAR_B, NEAR_B, FAR])
    bank.fill(torch.randn(6, 2), torch.arange(6.0), types, [f"e{i}" for i in range(6)])
    rows, mask = bank.pick(torch.tensor([A, B]), k=2)
    assert rows.tolist() == [[0, 1], [3, 4]] and mask.all()
    rows, mask = bank.pick(torch.tensor([FAR]), k=3)  # one of its type: padded rows masked out
    assert rows[0, 0].item() == 5 and mask.tolist() == [[True, False, False]]
    rows, mask = bank.pick(None, k=3)  # no dive type known: spread over the bank
    assert rows.tolist() == [[0, 2, 5]] and mask.all()
    with pytest.raises(MtlaqaError, match="no exemplar bank"):
        ExemplarBank(dim=2).pick(None, k=3)


def test_head_mean_and_spread_over_exemplars() -> None:
    torch.manual_seed(0)
    head = ExemplarHead(dim=4)
    bank = ExemplarBank(dim=4)
    bank.fill(torch.randn(3, 4), torch.tensor([-1.0, 0.0, 2.0]), torch.tensor([A] * 3), list("abc"))
    h = torch.randn(2, 4)
    out = head.against_bank(h, None, bank, k=3)
    est = torch.stack([bank.scores[j] + head.difference(h, bank.features[j].expand(2, 4), bank.scores[j].expand(2)) for j in range(3)], 1)  # fmt: skip
    assert torch.allclose(out["score"], est.mean(1), atol=1e-6)
    assert torch.allclose(out["score_spread"], est.std(1, unbiased=False), atol=1e-6)
    again = head.against_bank(h, None, bank, k=3)
    assert torch.equal(again["score"], out["score"])  # inference is deterministic


@pytest.fixture(scope="module", params=["direct", "with_dd"])
def exemplar_run(request: pytest.FixtureRequest, synth_dir: Path, tmp_path_factory) -> tuple:
    from mtlaqa.engine import fit

    cfg = load_config(
        "demo",
        [
            f"data.root={synth_dir}",
            *TINY,
            "train.epochs=1",
            "model.score_head=exemplar",
            "model.exemplars=3",
            f"model.score_protocol={request.param}",
        ],
    )
    out = tmp_path_factory.mktemp(f"exemplar_{request.param}")
    result = fit(cfg, out, progress=False, verbose=False)
    return out, result, cfg


def test_checkpoint_carries_the_bank(exemplar_run: tuple, synth_dir: Path, tmp_path) -> None:
    from mtlaqa.checkpoint import load_checkpoint, model_from_checkpoint
    from mtlaqa.predict import load_model

    run, result, cfg = exemplar_run
    ckpt = load_checkpoint(run / "checkpoint.pt")
    bank = ckpt["exemplar_bank"]
    train = [s for s in read_manifest(synth_dir) if s.split == "train"]
    # up to 3 per dive type, all from the training split, in the checkpoint with their features
    assert set(bank["ids"]) <= {s.id for s in train}
    assert bank["features"].shape == (len(bank["ids"]), cfg.model.fc_dim)
    assert result["meta"]["exemplar_bank"]["count"] == len(bank["ids"])
    model, *_ = model_from_checkpoint(ckpt)
    assert model.bank.ids == bank["ids"] and torch.equal(model.bank.features, bank["features"])
    # a video copied to a folder with no dataset around it is scored from the bank alone
    video = tmp_path / "elsewhere" / "dive.mp4"
    video.parent.mkdir()
    shutil.copy(synth_dir / "videos" / f"{train[0].id}.mp4", video)
    p = load_model(run / "checkpoint.pt", device="cpu").predict(video, difficulty=2.0)
    assert p.score is not None and np.isfinite(p.score)
    assert p.score_spread is not None and p.score_spread >= 0
    assert p.to_dict() == load_model(run, device="cpu").predict(video, difficulty=2.0).to_dict()


def test_both_protocols_score_against_exemplars(exemplar_run: tuple, synth_dir: Path) -> None:
    _, result, cfg = exemplar_run
    pred = result["predictions"]["best"]
    assert np.all(pred["score_spread"] >= 0)
    assert "score_spread_error_kendall" in result["test"]["best"]
    by_id = {s.id: s for s in read_manifest(synth_dir)}
    true = np.array([by_id[i].score for i in pred["ids"]])
    assert np.allclose(pred["score_true"], true, atol=1e-4)  # final units in both protocols
    if cfg.model.score_protocol == "with_dd":  # execution predicted, × the true difficulty
        dd = np.array([by_id[i].difficulty for i in pred["ids"]])
        assert np.allclose(pred["score_pred"], pred["execution_pred"] * dd, rtol=1e-5)
    else:
        assert "execution_pred" not in pred


def test_with_dd_scales_the_spread_like_the_score() -> None:
    from mtlaqa.protocols import to_final_units

    samples = [_sample(0, A), _sample(1, B)]  # difficulty 2.0
    pred = {
        "ids": ["s0", "s1"],
        "score_pred": np.array([20.0, 25.0]),
        "score_true": np.array([25.0, 25.0]),
        "score_spread": np.array([0.5, 1.5]),
    }
    out = to_final_units(pred, samples, "with_dd")
    assert out["score_spread"].tolist() == [1.0, 3.0]
    assert to_final_units(pred, samples, "direct")["score_spread"].tolist() == [0.5, 1.5]


def test_exemplar_targets_follow_the_protocol(synth_dir: Path) -> None:
    from mtlaqa.data.dataset import DiveDataset, ScoreNorm
    from mtlaqa.data.exemplars import ExemplarDataset
    from mtlaqa.models.build import build_model
    from mtlaqa.protocols import protocol_samples

    cfg = load_config("demo", [f"data.root={synth_dir}", *TINY, "model.score_head=exemplar"])
    train = [s for s in read_manifest(synth_dir) if s.split == "train"]
    targets = protocol_samples(train, "with_dd")
    cfg.model.tasks = ["score"]
    spec = build_model(cfg, None).input_spec
    ds = DiveDataset(targets, cfg.data, spec, True, None, ScoreNorm(1.0, 2.0), 0)
    pairing = ExemplarPairing(targets, seed=0)
    wrapped = ExemplarDataset(ds, pairing)
    wrapped.set_epoch(3)
    item = wrapped[0]
    j = pairing.exemplar(0, 3)
    s = train[j]
    assert item["exemplar_score"] == pytest.approx((s.score / s.difficulty - 1.0) / 2.0)
    assert item["exemplar_video"].shape == item["video"].shape


def test_page_scores_with_the_bank(exemplar_run: tuple, synth_dir: Path, tmp_path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from mtlaqa.predict import load_model
    from mtlaqa.web.app import create_app

    run, _, cfg = exemplar_run
    app = create_app(load_model(run / "checkpoint.pt", device="cpu"), tmp_dir=str(tmp_path))
    video = next((synth_dir / "videos").glob("*.mp4"))
    with TestClient(app, base_url="http://localhost") as client:
        r = client.post(
            "/api/predict", files={"file": ("dive.mp4", video.read_bytes(), "video/mp4")}
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["score_spread"] >= 0  # execution units for with_dd (no difficulty uploaded)
    if cfg.model.score_protocol == "direct":
        assert np.isfinite(body["score"])
    else:  # a with_dd model needs the difficulty for a final score
        assert body["score"] is None


def test_unknown_score_head_and_wrong_arch_are_refused(tiny_cfg) -> None:
    import dataclasses

    from mtlaqa.models.build import build_model

    bad = dataclasses.replace(tiny_cfg.model, score_head="oracle")
    with pytest.raises(MtlaqaError, match="unknown model.score_head .oracle."):
        build_model(dataclasses.replace(tiny_cfg, model=bad), None)
    mscadc = dataclasses.replace(tiny_cfg.model, score_head="exemplar", arch="mscadc")
    with pytest.raises(MtlaqaError, match="needs model.arch=multiclip"):
        build_model(dataclasses.replace(tiny_cfg, model=mscadc), None)


def test_annotated_pick_uses_the_given_type_and_falls_back_to_the_predicted_one() -> None:
    torch.manual_seed(0)
    head, bank = ExemplarHead(dim=4), ExemplarBank(dim=4)
    bank.fill(torch.randn(2, 4), torch.tensor([-1.0, 2.0]), torch.tensor([A, FAR]), ["a", "far"])
    h = torch.randn(2, 4)
    # the attribute logits predict type A for both queries
    logits = {k: torch.nn.functional.one_hot(torch.tensor([v, v]), 6).float() * 5 for k, v in zip(ATTRS, A, strict=True)}  # fmt: skip
    only_a = head.against_bank(h, logits, bank, k=1)
    given = torch.tensor([FAR, [-1, 0, 0, 0, 0]])  # query 0: annotated FAR; query 1: unknown
    picked = head.against_bank(h, logits, bank, k=1, types=given)
    far = head.against_bank(h, None, bank, k=1, types=torch.tensor([FAR, FAR]))
    assert torch.allclose(picked["score"][0], far["score"][0])  # the annotated type's exemplar
    assert torch.allclose(picked["score"][1], only_a["score"][1])  # unknown: the predicted one
    assert not torch.allclose(far["score"][0], only_a["score"][0])


def test_evaluation_follows_exemplar_pick(exemplar_run: tuple, synth_dir: Path) -> None:
    import dataclasses

    from mtlaqa.checkpoint import load_checkpoint, model_from_checkpoint
    from mtlaqa.data.dataset import DiveDataset
    from mtlaqa.data.loader import make_loader
    from mtlaqa.evaluate import predict_loader

    run, _, cfg = exemplar_run
    model, cfg, vocab, norm = model_from_checkpoint(load_checkpoint(run / "checkpoint.pt"))
    test = [s for s in read_manifest(synth_dir) if s.split == "test"]
    ds = DiveDataset(test, cfg.data, model.input_spec, False, None, norm)
    scores = {}
    for pick in ("annotated", "predicted"):
        model.cfg = dataclasses.replace(cfg.model, exemplar_pick=pick)
        p = predict_loader(model, make_loader(ds, 4, False, 0, 0), torch.device("cpu"), norm, None, False, None, progress=False)  # fmt: skip
        scores[pick] = p["score_pred"]
    wrong = [
        i
        for i, s in enumerate(test)
        if tuple(getattr(s, a) for a in ATTRS)
        != tuple(int(p["attributes_pred"][a][i]) for a in ATTRS)
    ]
    same = [i for i in range(len(test)) if i not in wrong]
    # where the predicted dive is the annotated one both picks agree; elsewhere they differ
    assert np.allclose(scores["annotated"][same], scores["predicted"][same], atol=1e-5)
    assert wrong and not np.allclose(scores["annotated"][wrong], scores["predicted"][wrong])


def test_predict_dive_picks_the_announced_dives_exemplars(
    exemplar_run: tuple, synth_dir: Path, tmp_path
) -> None:
    from click.testing import CliRunner

    from mtlaqa.cli import main
    from mtlaqa.predict import load_model
    from mtlaqa.schema import dive_number

    run, _, _ = exemplar_run
    model = load_model(run / "checkpoint.pt", device="cpu")
    test = [s for s in read_manifest(synth_dir) if s.split == "test"][0]
    video = synth_dir / "videos" / f"{test.id}.mp4"
    plain = model.predict(video, difficulty=2.0)
    codes = {dive_number(*t) for t in model.model.bank.types.tolist()}
    scores = {code: model.predict(video, difficulty=2.0, dive=code).score for code in codes}
    assert len(set(scores.values())) > 1  # each announced dive: its own exemplars, its own score
    predicted = plain.dive_number
    if predicted in scores:  # announcing the predicted dive changes nothing
        assert scores[predicted] == pytest.approx(plain.score, abs=1e-5)
    bad = CliRunner().invoke(main, ["predict", str(run), str(video), "--dive", "9999Z"])
    assert bad.exit_code == 2 and bad.output.count("\n") == 1 and "--dive" in bad.output
    ok = CliRunner().invoke(main, ["predict", str(run), str(video), "--dive", sorted(codes)[0]])
    assert ok.exit_code == 0, ok.output


def test_predict_dive_is_refused_for_a_direct_model(tiny_run) -> None:
    from mtlaqa.predict import load_model

    run, _ = tiny_run
    with pytest.raises(MtlaqaError, match="only an exemplar model"):
        load_model(run / "checkpoint.pt", device="cpu").check_dive("101B")
