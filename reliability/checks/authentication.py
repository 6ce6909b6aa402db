"""7. Authentication: no route takes a missing, expired, forged, tampered or unsigned token, nor
a credential of the other kind (a service credential as a user token on the public API, a user
token as a service credential on the services' internal routes); and repeated wrong passwords
for one handle are refused (429 with Retry-After), the right one too while the lock holds."""

from collections import Counter
from dataclasses import dataclass, field

import httpx

from reliability.check import Check, Outcome, SuiteContext
from reliability.chirp_client import Member, all_items, conversation, sign_up
from reliability.forged_tokens import bad_service_credentials, bad_user_headers
from services.common.auth import SERVICE_HEADER, TokenKeys
from stack.layout import LocalLayout

FORGED_TEXT = "written with a bad token"
WRONG_PASSWORD = "not-the-password"

PUBLIC_ROUTES = [
    ("PUT", "/v1/follows/{peer}", None),
    ("DELETE", "/v1/follows/{peer}", None),
    ("POST", "/v1/posts", {"text": FORGED_TEXT}),
    ("GET", "/v1/posts/1", None),
    ("GET", "/v1/users/{peer}/posts", None),
    ("GET", "/v1/timeline", None),
    ("POST", "/v1/dms/{peer}", {"text": FORGED_TEXT}),
    ("GET", "/v1/dms/{peer}", None),
]
INTERNAL_ROUTES = [
    ("users", "GET", "/internal/users/{peer_id}/followers", None),
    ("users", "POST", "/internal/sessions", {"handle": "{peer}", "password": WRONG_PASSWORD}),
    ("users", "PUT", "/internal/follows/{peer_id}", None),
    ("posts", "POST", "/internal/posts", {"text": FORGED_TEXT}),
    ("posts", "GET", "/internal/users/{peer_id}/posts", None),
    ("timeline-1", "GET", "/internal/timeline", None),
    ("dms", "GET", "/internal/conversations/{peer_id}/messages", None),
    ("dms", "POST", "/internal/conversations/{peer_id}/messages", {"text": FORGED_TEXT}),
    ("trends", "GET", "/internal/trends", None),
]
# The fault hook, on each service's internal listener (its public port answers 404 there).
HOOK_ROUTES = [
    ("gateway", "GET", "/internal/faults", None),
    ("dms", "DELETE", "/internal/faults", None),
]


@dataclass
class Tally:
    tried: Counter[str] = field(default_factory=Counter)  # public / internal
    accepted: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    def count(self, where: str, label: str, answer: httpx.Response) -> None:
        self.tried[where] += 1
        self.statuses[answer.status_code] += 1
        # Anything but 401 means the token got past authentication (a 404 or 422 included).
        if answer.status_code != 401:
            self.accepted.append(f"{label}: {answer.status_code}")


def fill(text: str, peer: Member) -> str:
    return text.replace("{peer_id}", str(peer.id)).replace("{peer}", peer.handle)


def public_api(
    api: httpx.Client, keys: TokenKeys, victim: Member, peer: Member, tally: Tally
) -> None:
    for kind, headers in bad_user_headers(keys, victim, peer).items():
        for method, path, body in PUBLIC_ROUTES:
            answer = api.request(method, fill(path, peer), json=body, headers=headers)
            tally.count("public", f"{kind} on {method} {path}", answer)


def internal_routes(
    layout: LocalLayout, keys: TokenKeys, victim: Member, peer: Member, tally: Tally
) -> None:
    """Straight to each service's port (as a process on the same network could), with the
    victim's real user token as well, which must not open internal routes either."""
    with httpx.Client(timeout=10) as client:
        for kind, credential in bad_service_credentials(keys, victim).items():
            headers = victim.auth | ({SERVICE_HEADER: credential} if credential else {})
            routes = [(layout.url(s), m, p, b) for s, m, p, b in INTERNAL_ROUTES]
            routes += [(layout.internal_url(s), m, p, b) for s, m, p, b in HOOK_ROUTES]
            for base, method, path, body in routes:
                filled = None if body is None else {k: fill(v, peer) for k, v in body.items()}
                url = base + fill(path, peer)
                answer = client.request(method, url, json=filled, headers=headers)
                tally.count("internal", f"{kind} on {base} {method} {path}", answer)


@dataclass
class Lockout:
    attempts: int = 0
    first_refusal: int | None = None  # the attempt that first got 429
    retry_after: str | None = None
    refused_after: int = 0  # attempts after the first 429 that were refused too
    correct_refused: bool = False  # the right password, while locked

    @property
    def held(self) -> bool:
        return (
            self.first_refusal is not None
            and bool(self.retry_after)
            and self.refused_after == self.attempts - self.first_refusal
            and self.correct_refused
        )


def guess_passwords(api: httpx.Client, victim: Member, attempts: int) -> Lockout:
    lockout = Lockout(attempts=attempts)
    for attempt in range(1, attempts + 1):
        answer = api.post(
            "/v1/sessions", json={"handle": victim.handle, "password": f"{WRONG_PASSWORD}{attempt}"}
        )
        if answer.status_code == 429:
            if lockout.first_refusal is None:
                lockout.first_refusal = attempt
                lockout.retry_after = answer.headers.get("Retry-After")
            else:
                lockout.refused_after += 1
    right = api.post("/v1/sessions", json={"handle": victim.handle, "password": victim.password})
    lockout.correct_refused = right.status_code == 429
    return lockout


def nothing_written(api: httpx.Client, victim: Member, peer: Member) -> list[str]:
    found = []
    for owner in (victim, peer):
        texts = [p["text"] for p in all_items(api, owner, f"/v1/users/{owner.handle}/posts")]
        if FORGED_TEXT in texts:
            found.append(f"a post of {owner.handle}")
    if any(m["text"] == FORGED_TEXT for m in conversation(api, victim, peer)):
        found.append("a DM between them")
    return found


def run(context: SuiteContext) -> Outcome:
    stack = context.local_stack("authentication")
    stack.up(context.progress)
    keys = TokenKeys(stack.layout.token_secret, stack.layout.internal_secret)
    tally = Tally()
    try:
        with httpx.Client(base_url=stack.layout.gateway_url, timeout=10) as api:
            victim, peer = sign_up(api, "victim"), sign_up(api, "peer")
            public_api(api, keys, victim, peer, tally)
            internal_routes(stack.layout, keys, victim, peer, tally)
            written = nothing_written(api, victim, peer)
            lockout = guess_passwords(api, victim, context.size(12, 30))
    finally:
        stack.down()
    total = sum(tally.tried.values())
    passed = total > 0 and not tally.accepted and not written and lockout.held
    figure = (
        f"accepted {len(tally.accepted)} of {total} (public {tally.tried['public']}, internal "
        f"{tally.tried['internal']}); written {len(written)}; wrong passwords: 429 from attempt "
        f"{lockout.first_refusal} of {lockout.attempts} (Retry-After {lockout.retry_after}), "
        f"right password while locked {'refused' if lockout.correct_refused else 'ACCEPTED'}"
    )
    return Outcome(
        figure,
        passed,
        {
            "tried": dict(tally.tried),
            "statuses": dict(tally.statuses),
            "accepted": tally.accepted[:20],
            "written": written,
            "lockout": lockout.__dict__,
        },
    )


CHECKS = [
    Check(
        7,
        "Authentication",
        "no route takes a missing, expired, forged, unsigned or wrong-kind token (accepted 0); "
        "repeated wrong passwords get 429 with Retry-After",
        run,
    )
]
