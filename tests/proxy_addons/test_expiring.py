from socialwatch.proxy_addons.expiring import ExpiringSet

PAIR = ("10.0.0.5", "i.instagram.com")


def test_a_key_is_remembered_until_it_expires():
    pinned = ExpiringSet(max_entries=10, ttl_seconds=60)
    pinned.add(PAIR, now=0)
    assert pinned.contains(PAIR, now=59)
    assert not pinned.contains(("10.0.0.6", "i.instagram.com"), now=1)
    assert not pinned.contains(PAIR, now=61)
    assert len(pinned) == 0, "expired keys are forgotten"


def test_adding_again_extends_the_life_of_a_key():
    pinned = ExpiringSet(max_entries=10, ttl_seconds=60)
    pinned.add(PAIR, now=0)
    pinned.add(PAIR, now=50)
    assert pinned.contains(PAIR, now=100)


def test_the_set_is_bounded_and_reports_evictions():
    pinned = ExpiringSet(max_entries=2, ttl_seconds=60)
    assert [pinned.add((f"10.0.0.{i}", "x.com"), now=0) for i in range(4)] == [0, 0, 1, 1]
    assert len(pinned) == 2
    assert not pinned.contains(("10.0.0.0", "x.com"), now=1), "the oldest went first"
    assert pinned.contains(("10.0.0.3", "x.com"), now=1)
