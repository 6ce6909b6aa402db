"""6. Object-level authorization: a member who harvests ids (post ids from a timeline,
conversation ids and user ids from their own DMs) or guesses their neighbours can neither read
other people's DMs nor change, delete or take over other people's posts, DMs or follows."""

import uuid
from collections import Counter

import httpx

from reliability.check import Check, Outcome, SuiteContext
from reliability.chirp_client import (
    Member,
    all_items,
    conversation,
    eventually,
    follow,
    post,
    send_dm,
    sign_up,
    timeline_has,
)
from reliability.intrusions import Intrusion, Loot, intrusions

FAN_OUT_WAIT_S = 10.0


def run(context: SuiteContext) -> Outcome:
    stack = context.local_stack("object-authorization")
    stack.up(context.progress)
    try:
        with httpx.Client(base_url=stack.layout.gateway_url, timeout=10) as api:
            return probe(api, context)
    finally:
        stack.down()


def probe(api: httpx.Client, context: SuiteContext) -> Outcome:
    secret = f"secret-{uuid.uuid4().hex}"
    alice, bob, mallory = (sign_up(api, name) for name in ("alice", "bob", "mallory"))
    follow(api, bob, alice)
    follow(api, mallory, alice)
    private = [
        send_dm(api, sender, peer, f"{secret} {i}")
        for i in range(context.size(3, 10))
        for sender, peer in ((alice, bob), (bob, alice))
    ]
    posts = [post(api, alice, f"alice says {i}") for i in range(context.size(3, 10))]
    loot = harvest(api, mallory, alice, bob, posts)
    context.progress("6. trying harvested and guessed ids")
    tried = intrusions(loot, context.size(4, 30))
    sources: Counter[str] = Counter()
    breaches: list[str] = []
    statuses: Counter[int] = Counter()
    for intrusion in tried:
        answer = api.request(
            intrusion.method,
            intrusion.path,
            json=intrusion.body,
            params=intrusion.params,
            headers=mallory.auth | intrusion.headers,
        )
        sources[intrusion.source] += 1
        statuses[answer.status_code] += 1
        if breached(intrusion, answer, secret, loot):
            breaches.append(f"{intrusion.label}: {answer.status_code} {answer.text[:120]}")
    damage = damage_done(api, alice, bob, private, posts)
    passed = not breaches and not damage and len(tried) > 0
    figure = (
        f"unauthorized 2xx {len(breaches)} of {len(tried)} (harvested ids "
        f"{sources['harvested']}, guessed {sources['guessed']}); damage found on read-back "
        f"{len(damage)}"
    )
    return Outcome(
        figure,
        passed,
        {
            "attempts": len(tried),
            "by_source": dict(sources),
            "statuses": dict(statuses),
            "breaches": breaches[:20],
            "damage": damage[:20],
        },
    )


def harvest(
    api: httpx.Client, mallory: Member, alice: Member, bob: Member, posts: list[dict[str, object]]
) -> Loot:
    """What mallory can see of the others: alice's post ids in her own home timeline, and the
    conversation ids (hence user ids) of her own conversations with alice and with bob."""
    wanted = {int(str(p["id"])) for p in posts}
    seen, _ = eventually(
        lambda: {int(item["id"]) for item in all_items(api, mallory, "/v1/timeline")},
        lambda ids: wanted <= ids,
        FAN_OUT_WAIT_S,
    )
    with_alice = send_dm(api, mallory, alice, "hi alice")
    with_bob = send_dm(api, mallory, bob, "hi bob")
    return Loot(
        post_ids=sorted(seen & wanted),
        own_conversations=[str(with_alice["conversation_id"]), str(with_bob["conversation_id"])],
        alice=alice,
        bob=bob,
        mallory_id=mallory.id,
    )


def breached(intrusion: Intrusion, answer: httpx.Response, secret: str, loot: Loot) -> bool:
    """A 2xx to something mallory must not do, or any answer showing what she must not see."""
    if secret in answer.text:
        return True
    if not answer.is_success:
        return False
    # A refusal may echo the path it refused; a 2xx naming alice and bob's conversation shows it.
    return intrusion.forbidden or f'"{loot.private_conversation}"' in answer.text


def damage_done(
    api: httpx.Client,
    alice: Member,
    bob: Member,
    private: list[dict[str, object]],
    posts: list[dict[str, object]],
) -> list[str]:
    """Reads back as the owners: every DM and post unchanged, nothing added on their behalf,
    and bob still follows alice (a new post of hers reaches his timeline)."""
    found: list[str] = []
    messages = conversation(api, alice, bob)
    expected = [(m["seq"], m["sender"], m["text"]) for m in private]
    if [(m["seq"], m["sender"], m["text"]) for m in messages] != expected:
        found.append(f"conversation alice-bob changed: {len(messages)} of {len(expected)}")
    own = all_items(api, alice, f"/v1/users/{alice.handle}/posts")
    if sorted((p["id"], p["text"]) for p in own) != sorted((p["id"], p["text"]) for p in posts):
        found.append(f"alice's posts changed: {[p['text'] for p in own]}")
    later = post(api, alice, "still followed?")
    if not timeline_has(api, bob, int(later["id"]), FAN_OUT_WAIT_S):
        found.append("bob no longer follows alice")
    return found


CHECKS = [
    Check(
        6,
        "Object-level authorization",
        "with harvested and guessed ids, no member reads another's DMs or changes another's "
        "posts, DMs or follows: unauthorized 2xx 0",
        run,
    )
]
