"""return_freed_memory: freed Arrow buffers go back to the operating system."""

from __future__ import annotations

import pyarrow as pa

from orchestration.memory import return_freed_memory

BUFFER_BYTES = 256 << 10
BUFFERS = 2000


def _resident_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def test_freed_arrow_buffers_are_returned():
    buffers = [pa.allocate_buffer(BUFFER_BYTES) for _ in range(BUFFERS)]
    for buffer in buffers:
        memoryview(buffer).cast("B")[::4096] = b"\x01" * len(range(0, BUFFER_BYTES, 4096))  # touch every page
    del buffers
    # The pool keeps what was freed; the call hands it back.
    before = _resident_mb()
    return_freed_memory()
    after = _resident_mb()
    assert before - after > 0.5 * BUFFERS * BUFFER_BYTES / 2**20
