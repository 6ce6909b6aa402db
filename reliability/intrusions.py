"""What a curious member tries with ids that are not hers: the requests of the object-level
authorization check, built from what she harvested (post ids from her timeline, conversation
ids of her own DMs, the user ids inside them) and from neighbours she guessed."""

from dataclasses import dataclass, field
from typing import Any

from reliability.chirp_client import Member

# Headers a careless gateway might trust to say who is calling.
IMPERSONATING_HEADERS = ("X-User-Id", "X-Forwarded-User", "X-Failwhale-Service")


@dataclass(frozen=True)
class Loot:
    post_ids: list[int]  # alice's posts, seen in mallory's home timeline
    own_conversations: list[str]  # mallory's conversations with alice, then with bob
    alice: Member  # only the handle is used: mallory knows handles, not tokens
    bob: Member
    mallory_id: int

    def peer_id(self, index: int) -> int:
        """A user id read out of one of mallory's own conversation ids ("low-high")."""
        low, high = (int(part) for part in self.own_conversations[index].split("-"))
        return high if low == self.mallory_id else low

    @property
    def alice_id(self) -> int:
        return self.peer_id(0)

    @property
    def bob_id(self) -> int:
        return self.peer_id(1)

    @property
    def private_conversation(self) -> str:
        """The id of alice and bob's conversation, guessed from the two harvested user ids."""
        low, high = sorted((self.alice_id, self.bob_id))
        return f"{low}-{high}"


@dataclass(frozen=True)
class Intrusion:
    """One request. `forbidden`: any 2xx is a breach (a change to someone else's object); for
    the others a 2xx is fine as long as nothing private shows in it."""

    label: str
    source: str  # "harvested" or "guessed"
    method: str
    path: str
    forbidden: bool
    body: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def neighbours(value: int, count: int) -> list[int]:
    """`count` ids next to `value` (+1, -1, +2, -2, ...), all positive."""
    found: list[int] = []
    step = 1
    while len(found) < count and step <= 2 * count + value:
        for candidate in (value + step, value - step):
            if candidate > 0 and len(found) < count:
                found.append(candidate)
        step += 1
    return found


def post_tampering(post_id: int, source: str) -> list[Intrusion]:
    hijack = {"text": "hijacked"}
    return [
        Intrusion("delete a post", source, "DELETE", f"/v1/posts/{post_id}", True),
        Intrusion("replace a post", source, "PUT", f"/v1/posts/{post_id}", True, hijack),
        Intrusion("edit a post", source, "PATCH", f"/v1/posts/{post_id}", True, hijack),
        Intrusion("post onto a post id", source, "POST", f"/v1/posts/{post_id}", True, hijack),
        Intrusion(
            "post under a chosen id", source, "POST", "/v1/posts", True, hijack | {"id": post_id}
        ),
    ]


def conversation_peeking(cid: str, source: str) -> list[Intrusion]:
    return [
        Intrusion("read a conversation by id", source, "GET", f"/v1/dms/{cid}", False),
        Intrusion(
            "read a conversation through an internal route",
            source,
            "GET",
            f"/internal/conversations/{cid.split('-')[-1]}/messages",
            True,
        ),
    ]


def dm_impersonation(loot: Loot) -> list[Intrusion]:
    """Reads of mallory's own conversations and sends as if she were alice: nothing of
    alice and bob's may show, and no message may be sent in alice's name."""
    alice, bob, cid = loot.alice.handle, loot.bob.handle, loot.private_conversation
    tried = [
        Intrusion("read own conversation, later seqs", "harvested", "GET", f"/v1/dms/{bob}", False,
                  params={"after_seq": seq})
        for seq in range(4)
    ]  # fmt: skip
    for name in IMPERSONATING_HEADERS:
        tried.append(
            Intrusion(
                f"read with {name}", "harvested", "GET", f"/v1/dms/{bob}", False,
                headers={name: str(loot.alice_id) if name != "X-Forwarded-User" else alice},
            )
        )  # fmt: skip
    spoofed: list[dict[str, Any]] = [
        {"text": "from alice, honest", "sender": alice},
        {"text": "into their conversation", "conversation_id": cid},
        {"text": "outbox style", "sender_id": loot.alice_id, "peer_id": loot.bob_id},
    ]
    tried += [
        Intrusion("send in alice's name", "harvested", "POST", f"/v1/dms/{bob}", True, body)
        for body in spoofed
    ]
    for trick in (f"{bob}%2F..%2F{alice}", f"..%2F..%2Finternal%2Fconversations%2F{loot.bob_id}"):
        tried.append(Intrusion("path trick", "guessed", "GET", f"/v1/dms/{trick}", False))
    tried.append(
        Intrusion(
            "unfollow in bob's name", "harvested", "DELETE", f"/v1/follows/{alice}", False,
            headers={"X-User-Id": str(loot.bob_id)},
        )
    )  # fmt: skip
    return tried


def intrusions(loot: Loot, guesses: int) -> list[Intrusion]:
    tried: list[Intrusion] = []
    for post_id in loot.post_ids:
        tried += post_tampering(post_id, "harvested")
    for post_id in neighbours(max(loot.post_ids, default=1), guesses):
        tried += post_tampering(post_id, "guessed")
    for cid in loot.own_conversations:
        tried += conversation_peeking(cid, "harvested")
    guessed_cids = [loot.private_conversation, "-".join(loot.private_conversation.split("-")[::-1])]
    for peer in neighbours(loot.bob_id, guesses):
        guessed_cids.append(f"{min(loot.alice_id, peer)}-{max(loot.alice_id, peer)}")
    for cid in guessed_cids:
        tried += conversation_peeking(cid, "guessed")
    tried += dm_impersonation(loot)
    return tried
