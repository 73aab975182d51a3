"""EncodedAdder adds encoded histograms exactly as hdrh's own decode_and_add does (the coordinator's hot path)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from liminal_tui.metrics.hdr import EncodedAdder
from liminal_tui.metrics.recorder import HIGHEST_US, new_histogram

values = st.lists(st.integers(min_value=1, max_value=HIGHEST_US), max_size=60)


@settings(max_examples=60, deadline=None)
@given(st.lists(values, max_size=5), values)
def test_same_counts_min_max_and_total_as_decode_and_add(blobs, already):
    ours, theirs = new_histogram(), new_histogram()
    for v in already:  # the target need not be empty
        ours.record_value(v)
        theirs.record_value(v)
    adder = EncodedAdder()
    for sample in blobs:
        h = new_histogram()
        for v in sample:
            h.record_value(v)
        if not h.get_total_count():
            continue  # the recorder never sends an empty histogram (None instead)
        blob = h.encode()
        theirs.decode_and_add(blob)
        adder.add(ours, blob)
    assert bytes(ours.counts) == bytes(theirs.counts)
    assert ours.get_total_count() == theirs.get_total_count()
    if theirs.get_total_count():
        assert ours.get_min_value() == theirs.get_min_value() and ours.get_max_value() == theirs.get_max_value()
