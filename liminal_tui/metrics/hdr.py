"""Adding encoded HdrHistograms without allocating: the aggregator's hot path on a many-host coordinator.

``hist.decode_and_add(blob)`` builds a whole new histogram per blob (a 190 KB counts array, allocated and
zeroed) and then adds all 23,552 counters, whatever the blob holds. A tick of 100 hosts x 20 endpoints is
~2,600 blobs: 268 ms of CPU (bench/cluster.py simulate). Here each blob is decoded into one scratch array
that is reused, only its non-zero range is added, and that range is zeroed again: the same counts.
"""

from __future__ import annotations

import ctypes
import threading

import pyhdrh  # hdrhistogram's C helpers (decode, add_array), as its own codec uses them
from hdrh.codec import HdrHistogramEncoder, payload_header_size
from hdrh.histogram import HdrHistogram

from .recorder import new_histogram

__all__ = ["EncodedAdder", "thread_adder"]


class EncodedAdder:
    """``add(target, blob)``: what ``target.decode_and_add(blob)`` does, for histograms of
    :func:`~.recorder.new_histogram`'s layout (others fall back to ``decode_and_add``)."""

    def __init__(self) -> None:
        self._scratch = new_histogram()
        p = self._scratch
        self._layout = (p.lowest_trackable_value, p.highest_trackable_value, p.significant_figures)

    def add(self, target: HdrHistogram, blob: bytes) -> None:
        payload = HdrHistogramEncoder.decode(blob, True)
        header = payload.payload
        scratch = self._scratch
        if (header.lowest_trackable_value, header.highest_trackable_value, header.significant_figures) != self._layout \
                or target.counts_len != scratch.counts_len or target.word_size != scratch.word_size:
            target.decode_and_add(blob)
            return
        found = pyhdrh.decode(payload._data, payload_header_size, ctypes.addressof(scratch.counts),
                              scratch.counts_len, scratch.word_size)
        total = found["total"]
        if not total:
            return
        lo, hi, size = found["min_nonzero_index"], found["max_nonzero_index"], scratch.word_size
        src = ctypes.addressof(scratch.counts) + lo * size
        pyhdrh.add_array(ctypes.addressof(target.counts) + lo * size, src, hi - lo + 1, size)
        ctypes.memset(src, 0, (hi - lo + 1) * size)
        target.total_count += total
        target.max_value = max(target.max_value, target.get_highest_equivalent_value(target.get_value_from_index(hi)))
        target.min_value = min(target.min_value, target.get_value_from_index(lo))


_local = threading.local()


def thread_adder() -> EncodedAdder:
    """This thread's :class:`EncodedAdder` (its scratch array is reused, so never shared between threads)."""
    adder = getattr(_local, "adder", None)
    if adder is None:
        adder = _local.adder = EncodedAdder()
    return adder
