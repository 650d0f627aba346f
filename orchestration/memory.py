"""Memory a finished step freed, handed back to the operating system before the next step."""

import pyarrow as pa


def return_freed_memory() -> None:
    """Return to the operating system what pyarrow's default pool (mimalloc) keeps of freed Arrow
    buffers. Called once after the quality step: measured at scale 100, the frames Great
    Expectations validated left 1 GB in the pool (2.2 → 1.2 GB resident after this call), which the
    models step, the run's peak, did not reuse."""
    pa.default_memory_pool().release_unused()
