"""Who uses Chirp, as Locust users: one class per persona, with weighted tasks close to a social
app (reading the home timeline dominates everything). Each user plays one account on two devices,
a phone and a laptop, each with its own HTTP client and its own session token.

Weights: scrollers 6, posters 2, chatters 2, networkers 1. In open-loop mode (`--rate`) the same
tasks arrive at a constant rate instead of after each other (loadtest/open_loop.py). A user
whose request was shed (503 /overloaded) honours its Retry-After: a closed-loop user waits that
long before its next task, an open-loop user lets the arrivals of that time go unsent.
"""

import functools
import random
from collections.abc import Callable
from typing import Any

from locust import FastHttpUser, task
from locust.contrib.fasthttp import FastHttpSession

from loadtest.accounts import Account
from loadtest.devices import Device
from loadtest.open_loop import OpenLoop, rate_per_user
from loadtest.run import LoadRun, run_of

WORDS = (
    "morning", "coffee", "deploy", "rollback", "breaker", "outbox", "replica", "redis",
    "latency", "queue", "timeline", "follow", "signal", "noise", "incident", "pager",
    "weekend", "release", "cache", "shard", "retry", "jitter",
)  # fmt: skip
TAGS = ("#chirp", "#failwhale", "#resilience", "#chaos", "#sre")
PHONE_SHARE = 0.65  # most actions happen on the phone
FOLLOWS_ON_SIGN_UP = 3


def action(weight: int) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    """A weighted Locust task that, in open-loop mode, runs in a greenlet of its own."""

    def decorate(body: Callable[[Any], None]) -> Callable[[Any], None]:
        @functools.wraps(body)
        def run(user: "ChirpUser") -> None:
            if user.open_loop is not None and user.backoff_s() > 0:
                user.open_loop.withhold()  # kept the schedule: offered, counted as withheld
                return  # a shed answer's Retry-After: this arrival is not sent
            if not user.signed_in:
                user.sign_in()  # not yet (users was down at start, say): try again
            elif user.open_loop is None:
                body(user)
            else:
                user.open_loop.spawn(body, user)

        return task(weight)(run)

    return decorate


class ChirpUser(FastHttpUser):
    abstract = True
    network_timeout = 10.0
    connection_timeout = 5.0
    concurrency = 20

    load: LoadRun
    slot: int
    phone: Device
    laptop: Device
    open_loop: OpenLoop | None = None
    signed_in = False

    def on_start(self) -> None:
        self.load = run_of(self.environment)
        self.rng = random.Random()
        self.slot = self.load.pool.claim()
        account = self.load.pool[self.slot]
        number = self.load.next_user_number()
        laptop_session = FastHttpSession(
            base_url=self.host,
            request_event=self.environment.events.request,
            user=self,
            network_timeout=self.network_timeout,
            connection_timeout=self.connection_timeout,
            concurrency=self.concurrency,
        )
        self.phone = self.load.device(f"{number}/phone", self.client, account)
        self.laptop = self.load.device(f"{number}/laptop", laptop_session, account)
        self.sign_in()
        if self.load.settings.rate > 0:
            rate = rate_per_user(self.load.settings.rate, self.load.settings.open_loop_users)
            self.open_loop = OpenLoop(
                rate, self.load.dropped_arrival, self._task_error, ledger=self.load.generator
            )

    def on_stop(self) -> None:
        if self.open_loop is not None:
            self.open_loop.stop()

    def wait_time(self) -> float:
        if self.open_loop is not None:
            return self.open_loop.wait()
        think = self.load.settings.think_time
        return max(self.rng.uniform(0.5 * think, 1.5 * think), self.backoff_s())

    def backoff_s(self) -> float:
        """Until the later Retry-After of a shed answer to either device has passed."""
        return max(self.phone.backoff_s(), self.laptop.backoff_s())

    def sign_in(self) -> None:
        """Both devices log in (a new account registers first); a new account follows its
        buddy, a few others and the pool's celebrities, so that its home timeline has something
        to show, fanned out on write and merged on read."""
        account = self.phone.account
        if not self.phone.token:
            ok = self.phone.log_in() if self.load.pool.seeded else self.phone.register()
            if not ok:
                return
        if not self.laptop.token and not self.laptop.log_in():
            return
        account.ready = True
        self.signed_in = True
        if not self.load.pool.seeded:
            buddy = self.load.pool.buddy(self.slot)
            others = self.load.pool.others(self.slot, self.rng, FOLLOWS_ON_SIGN_UP)
            celebrities = self.load.pool.celebrities(self.slot)
            chosen = [*([buddy] if buddy else []), *others, *celebrities]
            for other in {a.handle: a for a in chosen}.values():
                self.phone.follow(other.handle)

    def _task_error(self, error: BaseException) -> None:
        self.environment.events.user_error.fire(
            user_instance=self, exception=error, tb=error.__traceback__
        )

    # -- what every persona does, in its own proportions ---------------------------------------

    def device(self) -> Device:
        return self.phone if self.rng.random() < PHONE_SHARE else self.laptop

    def text(self, words: int = 6) -> str:
        body = " ".join(self.rng.choice(WORDS) for _ in range(words))
        return f"{body} {self.rng.choice(TAGS)}"

    def scroll(self, pages: int = 1) -> None:
        device = self.device()
        before = device.read_timeline()
        for _ in range(pages - 1):
            if before is None:
                return
            before = device.read_timeline(before)

    def post_and_look(self) -> None:
        """Post, then look at one's own page on the same device (read-your-writes)."""
        device = self.device()
        device.post(self.text())
        device.read_posts(device.handle)

    def someone(self) -> Account | None:
        buddy = self.load.pool.buddy(self.slot)
        if buddy is not None and self.rng.random() < 0.75:
            return buddy
        others = self.load.pool.others(self.slot, self.rng, 1)
        return others[0] if others else buddy

    def visit(self) -> None:
        other = self.someone()
        if other is not None:
            self.device().read_posts(other.handle)

    def write_dm(self) -> None:
        """Send a DM, then read the conversation from it on the same device."""
        peer = self.someone()
        if peer is None:
            return
        device = self.device()
        seq = device.send_dm(peer.handle, self.text(8))
        if seq is not None:
            device.read_dms(peer.handle, after_seq=seq - 1)

    def check_dms(self, reply_share: float = 0.5) -> None:
        """Read what the buddy wrote since this device last looked; sometimes answer."""
        buddy = self.load.pool.buddy(self.slot)
        if buddy is None:
            return
        device = self.device()
        messages = device.read_dms(buddy.handle)
        if messages and messages[-1][1] == buddy.handle and self.rng.random() < reply_share:
            device.send_dm(buddy.handle, self.text(5))

    def follow_someone(self, follow: bool = True) -> None:
        other = self.load.pool.others(self.slot, self.rng, 1)
        if other:
            self.device().follow(other[0].handle, follow)


class Scroller(ChirpUser):
    """Mostly reads: the home timeline, sometimes further down, a profile, trends."""

    weight = 6

    @action(12)
    def timeline(self) -> None:
        self.scroll()

    @action(3)
    def timeline_deeper(self) -> None:
        self.scroll(pages=2)

    @action(2)
    def profile(self) -> None:
        self.visit()

    @action(1)
    def trends(self) -> None:
        self.device().trends()

    @action(1)
    def post(self) -> None:
        self.post_and_look()

    @action(1)
    def dms(self) -> None:
        self.check_dms(reply_share=0.3)


class Poster(ChirpUser):
    """Writes often and checks how it looks."""

    weight = 2

    @action(6)
    def timeline(self) -> None:
        self.scroll()

    @action(4)
    def post(self) -> None:
        self.post_and_look()

    @action(1)
    def own_page(self) -> None:
        self.device().read_posts(self.phone.handle)

    @action(1)
    def trends(self) -> None:
        self.device().trends()


class Chatter(ChirpUser):
    """Lives in its DMs, both ways, between two looks at the timeline."""

    weight = 2

    @action(4)
    def timeline(self) -> None:
        self.scroll()

    @action(4)
    def send(self) -> None:
        self.write_dm()

    @action(4)
    def read_and_reply(self) -> None:
        self.check_dms(reply_share=0.7)


class Networker(ChirpUser):
    """Looks at people, follows and unfollows them."""

    weight = 1

    @action(5)
    def timeline(self) -> None:
        self.scroll()

    @action(3)
    def profile(self) -> None:
        self.visit()

    @action(2)
    def follow(self) -> None:
        self.follow_someone()

    @action(1)
    def unfollow(self) -> None:
        self.follow_someone(follow=False)

    @action(1)
    def trends(self) -> None:
        self.device().trends()

    @action(1)
    def post(self) -> None:
        self.post_and_look()


__all__ = ["Chatter", "ChirpUser", "Networker", "Poster", "Scroller"]
