"""Device tokens: what a successful sign-up or log-in hands to the client that made it, so that
its later log-ins are told apart from strangers' guesses.

A token names the account's handle, a random device id and an expiry, signed with the user-token
secret (under a label of its own, so that it is never taken for a user token). It grants nothing
by itself: it only decides which bucket a log-in attempt is counted in.
"""

import hashlib
import hmac
import secrets
import time

LABEL = b"chirp-device-v1"


class Devices:
    def __init__(self, secret: str, ttl_s: int) -> None:
        self._key = hmac.new(secret.encode(), LABEL, hashlib.sha256).digest()
        self.ttl_s = ttl_s

    def issue(self, handle: str, device_id: str | None = None) -> str:
        """A token for this handle: a new device, or a known one with its expiry renewed."""
        device_id = device_id or secrets.token_hex(12)
        expires = int(time.time()) + self.ttl_s
        return f"{device_id}.{expires}.{self._mac(handle, device_id, expires)}"

    def device_of(self, handle: str, token: str | None) -> str | None:
        """The device id of a valid, unexpired token issued for this handle; None otherwise."""
        if not token:
            return None
        parts = token.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        device_id, expires = parts[0], int(parts[1])
        if expires < time.time():
            return None
        if not hmac.compare_digest(parts[2], self._mac(handle, device_id, expires)):
            return None
        return device_id

    def _mac(self, handle: str, device_id: str, expires: int) -> str:
        message = f"{handle}|{device_id}|{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
