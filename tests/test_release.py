"""The official MTL-AQA release reader: real counts, captions, smaller sets, UNLV, unsafe pickles."""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from mtlaqa.data.release import (
    OFFICIAL_COUNTS,
    read_annotations,
    read_release,
    release_rows,
    safe_load_pickle,
    tokens_to_text,
)
from mtlaqa.errors import DataError

RELEASE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "MTL-AQA_dataset_release"
if not RELEASE.is_dir():  # worktrees live one level deeper than the CI checkout
    RELEASE = Path("/work/shared/data/MTL-AQA_dataset_release")
real = pytest.mark.skipif(
    not RELEASE.is_dir(), reason="official MTL-AQA annotations not found at ../shared/data"
)


@real
def test_main_split_counts() -> None:
    d = read_release(RELEASE, "main")
    assert len(d.annotations) == OFFICIAL_COUNTS["annotations"] == 1412
    assert (len(d.train), len(d.test)) == (1059, 353)
    assert not set(d.train) & set(d.test)
    assert d.vocab_words == 5781
    # captions joined for every annotated dive, the 4 caption keys without annotation dropped
    assert len(d.captions) == 1412 and d.dropped_captions == 4
    text = d.captions[(1, 1)]
    assert text.startswith("and a half somersault") and "<sos>" not in text and "<eos>" not in text
    a = d.annotations[(1, 1)]
    assert a["end_frame"] == 7462 and a["final_score"] == 88.0 and a["position"] == 2
    assert all(isinstance(k[0], int) and type(k[0]) is int for k in d.captions)  # numpy keys → int
    scores = [v["final_score"] for v in d.annotations.values()]
    assert min(scores) == 0.0 and max(scores) == 104.5


@real
@pytest.mark.parametrize(
    ("size", "n", "overlap"), [("size_140", 143, 36), ("size_280", 279, 80), ("size_450", 443, 115)]
)
def test_smaller_sets_warn_and_leak_free(
    size: str, n: int, overlap: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        d = read_release(RELEASE, size)
    assert len(d.train) == n and len(d.test) == 353 and len(d.overlap) == overlap
    warned = [r.message for r in caplog.records if "also main-split test dives" in r.message]
    assert len(warned) == 1 and "inflated" not in warned[0] and "\n" not in warned[0]
    clean = read_release(RELEASE, size, leak_free=True)
    assert len(clean.train) == n - overlap and not set(clean.train) & set(clean.test)
    assert all(k in clean.annotations for k in clean.test)
    # manifest rows: the release's full training list; a shared dive is a test row and a train row
    rows = release_rows(d)
    ids = [r[2] for r in rows]
    assert len(ids) == len(set(ids)) == n + 353
    assert sum(1 for r in rows if r[1] == "train") == n
    assert sum(1 for r in rows if r[1] == "test") == 353
    shared = [r for r in rows if r[2].endswith("_tr")]
    assert len(shared) == overlap and all(r[0] in set(d.test) for r in shared)
    clean_rows = release_rows(clean)
    assert sum(1 for r in clean_rows if r[1] == "train") == n - overlap
    assert not any(r[2].endswith("_tr") for r in clean_rows)


@real
def test_unlv_split() -> None:
    d = read_release(RELEASE, "unlv")
    assert (len(d.annotations), len(d.train), len(d.test)) == (372, 279, 93)
    assert len(d.extra_lists["train_split_370_4"]) == 300
    assert len(d.extra_lists["test_split_370_4"]) == 70
    assert all(type(k[0]) is int for k in d.extra_lists["test_split_370_4"])  # were numpy uint8


@real
def test_unlv_dive_standard_split(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        d = read_release(RELEASE, "unlv_dive")
    # train_split_370_4 has 300 keys, one of them, (1, 64), without an annotation
    assert (len(d.train), len(d.test)) == (299, 70)
    assert (1, 64) not in d.train and not set(d.train) & set(d.test)
    assert set(d.annotations) == set(d.train) | set(d.test)
    assert any("1 of 300 keys in train_split_370_4.pkl" in r.message for r in caplog.records)
    rows = release_rows(d)
    assert [r[1] for r in rows].count("train") == 299 and not any(
        r[2].endswith("_tr") for r in rows
    )


class _Evil:
    def __reduce__(self):  # noqa: ANN204
        return (os.system, ("echo pwned > /dev/null",))


def test_malicious_pickle_refused(tmp_path: Path) -> None:
    p = tmp_path / "final_annotations_dict.pkl"
    p.write_bytes(pickle.dumps({(1, 1): _Evil()}, protocol=3))
    with pytest.raises(DataError) as e:
        safe_load_pickle(p)
    msg = str(e.value)
    assert str(p) in msg and "system" in msg and "\n" not in msg


def test_object_scalar_and_eval_refused(tmp_path: Path) -> None:
    p = tmp_path / "x.pkl"
    p.write_bytes(pickle.dumps(np.array([None], dtype=object)[0:1], protocol=3))
    with pytest.raises(DataError, match="refused"):
        safe_load_pickle(p)
    # builtins.eval through GLOBAL + REDUCE
    p.write_bytes(b"\x80\x03cbuiltins\neval\nX\x04\x00\x00\x001+1;\x85R.")
    with pytest.raises(DataError, match="builtins.eval"):
        safe_load_pickle(p)


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_numpy_scalars_allowed(tmp_path: Path, protocol: int) -> None:
    p = tmp_path / "ok.pkl"
    obj = {(np.int64(1), 2): [np.float64(3.5), np.uint8(7), {"a": (1.5, "x")}]}
    p.write_bytes(pickle.dumps(obj, protocol=protocol))
    got = safe_load_pickle(p)
    assert got == {(1, 2): [3.5, 7, {"a": (1.5, "x")}]}
    assert isinstance(next(iter(got))[0], np.int64)


def test_bad_labels_named(tmp_path: Path) -> None:
    good = {
        "primary_view": 0, "start_frame": 10, "end_frame": 90, "position": 1, "difficulty": 2.0,
        "armstand": 0, "rotation_type": 1, "ss_no": 3, "tw_no": 0, "final_score": 50.0,
    }  # fmt: skip
    p = tmp_path / "final_annotations_dict.pkl"
    p.write_bytes(pickle.dumps({(1, 1): good, (1, 2): {**good, "position": 5}}, protocol=3))
    with pytest.raises(
        DataError, match=r"final_annotations_dict.pkl: entry \(1, 2\) field 'position'"
    ):
        read_annotations(p)
    p.write_bytes(
        pickle.dumps({(1, 1): {k: v for k, v in good.items() if k != "tw_no"}}, protocol=3)
    )
    with pytest.raises(DataError, match="lacks tw_no"):
        read_annotations(p)
    p.write_bytes(b"garbage")
    with pytest.raises(DataError, match="final_annotations_dict.pkl"):
        read_annotations(p)


def test_tokens_to_text() -> None:
    assert tokens_to_text(["<sos>", "a", "Good", "dive", "<eos>"]) == "a Good dive"


@real
def test_cli_release_info() -> None:
    from click.testing import CliRunner

    from mtlaqa.cli import main

    r = CliRunner().invoke(
        main, ["data", "release-info", str(RELEASE), "--subset", "size_140", "--leak-free"]
    )
    assert r.exit_code == 0, r.output
    assert "107 train / 353 test" in r.output
    r = CliRunner().invoke(main, ["data", "release-info", str(RELEASE), "--subset", "size_140"])
    assert r.exit_code == 0 and "143 train / 353 test" in r.output and "36 train dives" in r.output
    r = CliRunner().invoke(main, ["data", "release-info", str(RELEASE), "--subset", "unlv_dive"])
    assert r.exit_code == 0 and "299 train / 70 test" in r.output


def test_cli_refuses_unsafe_release(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mtlaqa.cli import main

    d = tmp_path / "Ready_2_Use" / "MTL-AQA_split_0_data"
    d.mkdir(parents=True)
    (d / "final_annotations_dict.pkl").write_bytes(pickle.dumps(_Evil(), protocol=3))
    r = CliRunner().invoke(main, ["data", "release-info", str(tmp_path)])
    assert r.exit_code == 2
    assert r.output.startswith("error: ") and r.output.count("\n") == 1 and "refused" in r.output
