import pytest

from spatial_ros.sync import ApproximateSync


def make(slop=0.01, queue=5):
    out = []
    sync = ApproximateSync(streams=["color", "depth"], slop=slop, queue_size=queue,
                           callback=lambda items, stamp: out.append((items, stamp)))
    return sync, out


def test_matches_within_slop():
    sync, out = make()
    sync.add("color", 1.000, "c1")
    assert not out
    sync.add("depth", 1.004, "d1")
    assert out == [({"color": "c1", "depth": "d1"}, 1.004)]


def test_does_not_match_outside_slop_and_later_matches_newest():
    sync, out = make()
    sync.add("color", 1.0, "c1")
    sync.add("depth", 1.5, "d1")
    assert not out
    sync.add("color", 1.5, "c2")
    assert out == [({"color": "c2", "depth": "d1"}, 1.5)]
    assert sync.dropped == 1  # c1 can never match now


def test_out_of_order_and_stale_items_are_counted_not_emitted():
    sync, out = make()
    sync.add("color", 2.0, "c2")
    sync.add("depth", 2.0, "d2")
    assert len(out) == 1
    sync.add("color", 1.0, "old")  # older than what was emitted
    sync.add("depth", 1.0, "old")
    assert len(out) == 1
    assert sync.out_of_order == 2


def test_bounded_queue_drops_oldest():
    sync, out = make(queue=3)
    for i in range(10):
        sync.add("color", float(i), i)
    assert not out
    assert sync.dropped == 7


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="slop=-1"):
        ApproximateSync(streams=["a"], slop=-1, queue_size=1, callback=lambda *a: None)


def test_time_going_back_far_restarts_matching():
    got = []
    sync = ApproximateSync(streams=["a", "b"], slop=0.01, queue_size=5,
                           callback=lambda items, stamp: got.append(stamp), time_jump=1.0)
    for t in (10.0, 10.1):
        sync.add("a", t, t)
        sync.add("b", t, t)
    sync.add("a", 10.05, 0)  # slightly late: can never match, dropped
    sync.add("b", 10.05, 0)
    assert got == [10.0, 10.1] and sync.out_of_order == 2
    for t in (2.0, 2.1):  # the bag looped: stamps start again
        sync.add("a", t, t)
        sync.add("b", t, t)
    assert got == [10.0, 10.1, 2.0, 2.1] and sync.time_resets == 1
