"""A process's memory around large short-lived work: Python's cycle collector paused while it
runs, and freed heap given back to the system after it."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off while the block runs. Work that holds tens of thousands of
    small objects at once (a batch's event dicts and row tuples in the worker, a growth
    report's rows per app and model) set off young-generation runs that walked them again and
    again, and full collections of the whole heap: a fifth of the worker's Python CPU, and as
    much as the growth report's own Python time (docs/operations.md). They form no reference
    cycles, and reference counting frees them. Process-wide: the one who paused it resumes it
    (a block started meanwhile in another thread finds it paused and leaves it so)."""
    pausing = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if pausing:
            gc.enable()


def _malloc_trim():
    """glibc's ``malloc_trim``, or None (another C library, another system)."""
    if sys.platform != "linux":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError):  # no libc found, or one without malloc_trim (musl)
        return None


_MALLOC_TRIM = _malloc_trim()


def trim_heap() -> None:
    """Give the memory a worker's coalesced set freed back to the system. glibc keeps freed heap
    pages for reuse, so each pool process stayed at its peak (~11 MB above its idle size after
    a set of 40,000 events); trimming takes 1-3 ms a set (docs/operations.md, worker memory)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
