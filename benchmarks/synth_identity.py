"""`python -m benchmarks.synth_identity --ref REF`: SynthDive bytes of the working tree vs a git ref.

Renders and encodes the first --num dives of seed --seed at each --size with the code of REF
(exported with `git archive` into a temp dir, run in a subprocess) and with the working tree, and
compares the SHA-256 of the raw frames and of the H.264 files. Exit status 1 if any differ. Used to
check that a faster renderer still gives byte-identical videos for the same seed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def digests(num: int, seed: int, sizes: list[int], workdir: Path) -> dict[str, str]:
    """{"<id>@<size>:frames|mp4": sha256} for the first num dives, with the importable mtlaqa."""
    from mtlaqa.data.synth.generate import sample_labels, write_video
    from mtlaqa.data.synth.render import render_dive

    out = {}
    for d in sample_labels(num, seed):
        for size in sizes:
            frames = render_dive(d, size)
            out[f"{d['id']}@{size}:frames"] = hashlib.sha256(frames.tobytes()).hexdigest()
            path = workdir / f"{d['id']}_{size}.mp4"
            write_video(frames, path)
            out[f"{d['id']}@{size}:mp4"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def ref_digests(ref: str, num: int, seed: int, sizes: list[int]) -> dict[str, str]:
    """digests() run in a subprocess on the src/ of git ref `ref`."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "ref.tar"
        subprocess.run(
            ["git", "-C", str(ROOT), "archive", "-o", str(archive), ref, "src"], check=True
        )
        with tarfile.open(archive) as tf:
            tf.extractall(tmp, filter="data")
        env = {**os.environ, "PYTHONPATH": str(Path(tmp) / "src")}
        code = (
            "import json, sys; from pathlib import Path; "
            "from benchmarks.synth_identity import digests; "
            f"print(json.dumps(digests({num}, {seed}, {sizes!r}, Path({tmp!r}))))"
        )
        env["PYTHONPATH"] += os.pathsep + str(ROOT)
        res = subprocess.run(
            [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
        )
        return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.synth_identity")
    p.add_argument("--ref", default="HEAD", help="git ref of the reference renderer")
    p.add_argument("--num", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sizes", type=int, nargs="+", default=[112, 64])
    a = p.parse_args(argv)
    old = ref_digests(a.ref, a.num, a.seed, a.sizes)
    with tempfile.TemporaryDirectory() as tmp:
        new = digests(a.num, a.seed, a.sizes, Path(tmp))
    bad = sorted(k for k in old if old[k] != new.get(k))
    print(
        f"{len(old) - len(bad)}/{len(old)} identical to {a.ref}" + (f"; differ: {bad}" * bool(bad))
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
