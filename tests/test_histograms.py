"""Percentiles read from the histograms are hdrh's own, to the bucket, however the histogram was built."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from liminal_tui.metrics.aggregate import percentile_values
from liminal_tui.metrics.recorder import HIGHEST_US, LOWEST_US, clear_histogram, new_histogram
from liminal_tui.metrics.snapshot import PERCENTILES

values = st.lists(st.integers(min_value=LOWEST_US, max_value=HIGHEST_US), min_size=1, max_size=300)
latencies = st.lists(st.floats(min_value=0.0, max_value=6.0).map(lambda e: max(LOWEST_US, int(10 ** e))), min_size=1, max_size=300)
extra = st.lists(st.floats(min_value=0.0, max_value=100.0), max_size=5)


def _hist(samples):
    hist = new_histogram()
    for v in samples:
        hist.record_value(v)
    return hist


@settings(max_examples=150, deadline=None)
@given(samples=st.one_of(values, latencies), more=extra)
def test_same_values_as_hdrh(samples, more):
    hist = _hist(samples)
    wanted = list(PERCENTILES) + more + [0.0]
    assert percentile_values(hist, wanted) == hist.get_percentile_to_value_dict(wanted)


@settings(max_examples=60, deadline=None)
@given(a=latencies, b=values)
def test_same_values_after_decode_add_and_reuse(a, b):
    """The main side builds its histograms from the workers' encoded ones, and reuses them cleared."""
    merged = new_histogram()
    merged.decode_and_add(_hist(a).encode())
    merged.add(_hist(b))
    assert percentile_values(merged, PERCENTILES) == merged.get_percentile_to_value_dict(list(PERCENTILES))
    clear_histogram(merged)
    merged.decode_and_add(_hist(a).encode())
    assert percentile_values(merged, PERCENTILES) == merged.get_percentile_to_value_dict(list(PERCENTILES))


def test_a_stale_max_value_does_not_cut_the_walk_short():
    hist = _hist([1_000, 2_000, 5_000_000])
    hist.max_value = 1_000  # as if something forgot to raise it
    assert percentile_values(hist, PERCENTILES) == hist.get_percentile_to_value_dict(list(PERCENTILES))


@settings(max_examples=150, deadline=None)
@given(samples=st.one_of(values, latencies))
def test_fast_record_fills_the_same_counts_as_record_value(samples):
    from liminal_tui.metrics.recorder import record

    mine = new_histogram()
    for v in samples:
        record(mine, v)
    theirs = _hist(samples)
    assert bytes(mine.counts) == bytes(theirs.counts)
    assert (mine.total_count, mine.min_value, mine.max_value) == (theirs.total_count, theirs.min_value, theirs.max_value)
    assert mine.encode() == theirs.encode()


@settings(max_examples=100, deadline=None)
@given(samples=st.one_of(values, latencies))
def test_success_and_timed_record_as_record_value_does(samples):
    """``EndpointRecorder.success``/``timed`` carry ``record`` inlined: the same counts as hdrh's own."""
    from liminal_tui.metrics.recorder import EndpointRecorder

    rec = EndpointRecorder("http", "GET /", "GET", timings=True)
    for v in samples:
        rec.success(v * 1000, 1, 200)
        rec.timed(v * 1000, -1, -1)
    theirs = _hist(samples)
    for mine in (rec.hist, rec.ttfb_hist):
        assert bytes(mine.counts) == bytes(theirs.counts)
        assert (mine.total_count, mine.min_value, mine.max_value) == (theirs.total_count, theirs.min_value, theirs.max_value)
    assert rec.sum_us == rec.timing_sums_us[2] == sum(samples)
