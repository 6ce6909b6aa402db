"""A direct probe of Redis durability: one connection writing numbered keys as fast as Redis
acknowledges them, right up to the moment Redis is killed; after the restart, every key Redis
acknowledged must still be there. Many more acknowledged writes per second than any service
makes, so the last instants before a kill are well covered."""

import threading
import time

import redis

PAUSE_S = 0.0005  # leaves the machine's other core to the services
TIMEOUT_S = 2.0
JOIN_TIMEOUT_S = 10.0
BATCH = 500


class AckedWrites:
    """Writes `<prefix>:<n>` for n = 1, 2, ... until Redis stops answering or `stop` is called;
    `acknowledged` is the highest n Redis answered OK."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self.redis_url = redis_url
        self.prefix = prefix
        self.acknowledged = 0
        self.error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"probe-{prefix}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(JOIN_TIMEOUT_S)

    def _run(self) -> None:
        client = redis.Redis.from_url(
            self.redis_url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
        )
        try:
            n = 0
            while not self._stop.is_set():
                n += 1
                # No retry: a write whose answer never came is not acknowledged.
                if client.set(f"{self.prefix}:{n}", n) is not True:
                    self.error = f"SET {n} was not acknowledged"
                    return
                self.acknowledged = n
                time.sleep(PAUSE_S)
        except redis.RedisError as exc:
            self.error = type(exc).__name__
        finally:
            client.close()

    def missing(self, redis_url: str) -> int:
        """How many acknowledged keys the (restarted) Redis no longer has."""
        client = redis.Redis.from_url(redis_url, socket_timeout=10)
        try:
            present = 0
            for first in range(1, self.acknowledged + 1, BATCH):
                last = min(first + BATCH - 1, self.acknowledged)
                keys = [f"{self.prefix}:{n}" for n in range(first, last + 1)]
                present += sum(value is not None for value in client.mget(keys))
            return self.acknowledged - present
        finally:
            client.close()
