from socialwatch.proxy_addons.pinning import PinnedClients


def test_a_pinned_pair_is_remembered_until_it_expires():
    pinned = PinnedClients(max_entries=10, ttl_seconds=60)
    pinned.add("10.0.0.5", "I.Instagram.com", now=0)
    assert pinned.contains("10.0.0.5", "i.instagram.com", now=59)
    assert not pinned.contains("10.0.0.6", "i.instagram.com", now=1), "per device"
    assert not pinned.contains("10.0.0.5", "www.tiktok.com", now=1), "per host"
    assert not pinned.contains("10.0.0.5", "i.instagram.com", now=61)
    assert len(pinned) == 0, "expired entries are forgotten"


def test_the_table_is_bounded_and_reports_evictions():
    pinned = PinnedClients(max_entries=2, ttl_seconds=60)
    assert [pinned.add(f"10.0.0.{i}", "x.com", now=0) for i in range(4)] == [0, 0, 1, 1]
    assert len(pinned) == 2
    assert not pinned.contains("10.0.0.0", "x.com", now=1), "the oldest went first"
    assert pinned.contains("10.0.0.3", "x.com", now=1)
