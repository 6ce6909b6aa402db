"""Device tokens: valid only for the handle they were issued for, until they expire, and only
as issued."""

from services.users.devices import Devices


def test_a_token_names_its_device_for_its_own_handle_only() -> None:
    devices = Devices("s" * 64, ttl_s=60)
    token = devices.issue("alice")
    device = devices.device_of("alice", token)
    assert device is not None and len(device) == 24
    assert devices.device_of("bob", token) is None
    assert devices.device_of("alice", devices.issue("alice", device)) == device  # renewed


def test_forged_altered_or_expired_tokens_name_no_device() -> None:
    devices = Devices("s" * 64, ttl_s=60)
    device_id, expires, mac = devices.issue("alice").split(".")
    assert devices.device_of("alice", f"other{device_id}.{expires}.{mac}") is None
    assert devices.device_of("alice", f"{device_id}.{int(expires) + 1}.{mac}") is None
    assert devices.device_of("alice", Devices("t" * 64, 60).issue("alice")) is None
    assert devices.device_of("alice", Devices("s" * 64, ttl_s=-5).issue("alice")) is None
    for junk in (None, "", "a.b", "a.b.c", "a..c", "...."):
        assert devices.device_of("alice", junk) is None
