"""mtlaqa/heap.py: freed large blocks stay in the heap, so the next allocation does not fault."""

import os
import subprocess
import sys

import pytest

PROBE = """
import resource
import numpy as np
from mtlaqa.heap import keep_freed_memory
applied = keep_freed_memory()
faults = []
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = np.ones(64 << 20, np.uint8)  # 64 MB: above glibc's largest mmap threshold
    del block
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(applied, faults[1], faults[2])
"""


def _probe(**env: str) -> tuple[bool, int, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "MTLAQA_"))}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    applied, second, third = out.stdout.split()
    return applied == "True", int(second), int(third)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_blocks_are_reused_without_page_faults():
    applied, second, third = _probe()
    assert applied
    assert second < 50 and third < 50  # the heap's own pages: no fresh ones from the kernel
    default, second, third = _probe(MTLAQA_MALLOC="system")
    assert not default
    assert second > 200 and third > 200  # glibc's default: every 64 MB block is new pages


def test_the_users_own_malloc_settings_win():
    assert _probe(MALLOC_TOP_PAD_="0")[0] is False
    assert _probe(GLIBC_TUNABLES="glibc.malloc.trim_threshold=0")[0] is False
