"""The growth benchmark's figures as Markdown: the table of how each cost grows, with the
formula each follows, where the bytes go, and a worked example sizing a stack for a million
members (bench.growth.render writes it into docs/performance.md)."""

from collections.abc import Callable
from typing import Any

from services.common.wire import POST_EVENTS_STREAM
from services.gateway.outbox import MAX_ENTRIES
from services.posts.settings import PostsSettings

# The stack sized in the worked example: what a million members might do, stated so a reader can
# put in their own (each line of the example shows its arithmetic).
EXAMPLE_MEMBERS = 1_000_000
EXAMPLE_POSTS_EACH = 20
EXAMPLE_DMS_EACH = 20
EXAMPLE_READS_PER_S = 10_000
EXAMPLE_PAGE = 20
EXAMPLE_OUTAGE_S = 60
EXAMPLE_POSTS_PER_S = 100
STREAM_CAP: int = PostsSettings.model_fields["stream_max_len"].default


def _size(n_bytes: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(n_bytes) >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes:.0f} B"


def _family_sum(phase: dict[str, Any], test: Callable[[str, dict[str, Any]], bool]) -> float:
    return float(sum(f["bytes_each"] for name, f in phase["families"].items() if test(name, f)))


def table(growth: dict[str, Any]) -> str:
    """The Markdown table: one row per cost, its fitted formula, residual and where it was
    measured."""
    memory, reads, outbox = growth["memory"], growth["reads"], growth["outbox"]
    members, posts, dms = memory["members"], memory["posts"], memory["dms"]
    rows = [
        "| cost | formula (fitted) | for 1k | residual | measured over |",
        "|---|---|---|---|---|",
    ]

    def memory_row(what: str, phase: dict[str, Any], n: str, assumption: str) -> str:
        fit = phase["fit"]
        return (
            f"| Redis memory per {what} ({assumption}) | bytes = {fit['slope']:.0f} x {n}"
            f" {_signed(fit['intercept'], '.0f')} | {_size(fit['slope'] * 1000)} |"
            f" {_size(fit['residual'])} | {_span(fit['x'])} {n} |"
        )

    rows.append(memory_row("member", members, "members", f"{members['follows_each']} follows each"))
    rows.append(memory_row(
        "post", posts, "posts",
        f"fan-out on write to {posts['homes_per_post']:.1f} homes: the author's and "
        f"{posts['homes_per_post'] - 1:.1f} followers' on average",
    ))  # fmt: skip
    rows.append(memory_row(
        "DM", dms, "DMs", f"{dms['messages_per_conversation']} messages per conversation"
    ))  # fmt: skip
    cpu = reads["cpu_ms_per_read"]
    rows.append(
        f"| CPU per home-timeline read (gateway, timeline replicas, Redis) |"
        f" ms = {cpu['slope']:.4f} x page {_signed(cpu['intercept'], '.3f')} |"
        f" {(cpu['slope'] * EXAMPLE_PAGE + cpu['intercept']):.2f} CPU-s per 1k reads of"
        f" {EXAMPLE_PAGE} |"
        f" {cpu['residual']:.3f} ms | pages of {', '.join(map(str, reads['pages']))} |"
    )
    gateway = reads.get("gateway_cpu_ms_per_read")
    if gateway is not None:
        rows.append(
            f"| the gateway's share of it | ms = {gateway['slope']:.4f} x page"
            f" {_signed(gateway['intercept'], '.3f')} |"
            f" {(gateway['slope'] * EXAMPLE_PAGE + gateway['intercept']):.2f} CPU-s per 1k reads"
            f" of {EXAMPLE_PAGE} | {gateway['residual']:.3f} ms | the same reads |"
        )
    rows.append(
        f"| Outbox drain once posts returns (one gateway delivering) | s ="
        f" {outbox['wait_s']:.1f} + depth / {outbox['entries_per_s']:.0f} |"
        f" {1000 / outbox['entries_per_s']:.1f} s to deliver 1k entries |"
        f" {outbox['residual_s']:.2f} s | depths {_span([r['depth'] for r in outbox['runs']])} |"
    )
    return "\n".join(rows)


def _signed(value: float, spec: str) -> str:
    return f"{'-' if value < 0 else '+'} {abs(value):{spec}}"


def _span(xs: list[float]) -> str:
    return f"{min(xs):,.0f}-{max(xs):,.0f}"


def breakdown(growth: dict[str, Any]) -> str:
    """Where the bytes go, from MEMORY USAGE per key family."""
    memory = growth["memory"]
    members, posts, dms, large = memory["members"], memory["posts"], memory["dms"], memory["large"]
    follow = _family_sum(members, lambda n, _: n.endswith((":following", ":followers")))
    expiring = _family_sum(posts, lambda _, f: bool(f["expires"]))
    homes = _family_sum(posts, lambda n, _: n.startswith("tl:home:"))
    account = _family_sum(members, lambda n, _: n in ("users:{n}", "users:by_handle"))
    shares = growth["reads"].get("by_process_page_20", {})
    timeline = sum(v for k, v in shares.items() if k.startswith("timeline"))
    top = ", ".join(
        f"`{n}` {f['bytes_each']:.0f} B" for n, f in list(posts["families"].items())[:6]
    )
    return "\n".join([
        f"- A member: {account:.0f} B for the account and its handle,"
        f" {follow:.0f} B for its two follow sets ({members['follows_each']} follows, compact"
        f" while small).",
        f"- A post: {posts['home_entry_bytes']:.0f} B per home it reaches ({homes:.0f} B in all),"
        f" {expiring:.0f} B in keys that expire (idempotency records 24 h, trend markers 2 h, the"
        f" timeline's copy 30 days). Largest families: {top}.",
        f"- A DM: {_family_sum(dms, lambda _, f: not f['expires']):.0f} B kept,"
        f" {_family_sum(dms, lambda _, f: bool(f['expires'])):.0f} B expiring after 24 h.",
        f"- A home read of 20 posts: gateway {shares.get('gateway', 0):.2f} ms, timeline"
        f" replicas {timeline:.2f} ms, Redis {shares.get('redis', 0):.2f} ms of CPU.",
        f"- An outbox entry: {growth['outbox'].get('cpu_ms_per_entry', 0):.2f} ms of CPU"
        f" (gateway, posts, Redis) to deliver; entries go one at a time, oldest first. The"
        f" first went {growth['outbox'].get('first_delivery_s', 0):.1f} s after posts was ready"
        f" (median: the breaker's reset timeout and the drainer's backoff).",
        f"- Once a home timeline is full ({large['home_cap']} posts, `{large['encodings'][0]}`"
        f" encoding) it holds {large['full_home_entry_bytes']:.0f} B per post,"
        f" {_size(large['full_home_bytes'])} per member; a follower set past Redis's compact"
        f" encoding (`{large['encodings'][1]}`) {large['large_follower_set_entry_bytes']:.0f} B"
        f" per follower.",
    ])  # fmt: skip


def example(growth: dict[str, Any]) -> str:
    """The worked example: a stack for a million members. A post's bytes (the used_memory
    slope) are split by key family: its home entries (replaced by full home timelines), its
    entry in the post event stream (which stops at its cap), its keys that expire, the rest."""
    memory, reads, outbox = growth["memory"], growth["reads"], growth["outbox"]
    members, posts, dms, large = memory["members"], memory["posts"], memory["dms"], memory["large"]
    n = EXAMPLE_MEMBERS
    n_posts, n_dms = n * EXAMPLE_POSTS_EACH, n * EXAMPLE_DMS_EACH
    homes = _family_sum(posts, lambda name, _: name.startswith("tl:home:"))
    stream = _family_sum(posts, lambda name, _: name == POST_EVENTS_STREAM)
    post_expiring = _family_sum(posts, lambda _, f: bool(f["expires"]))
    post_kept = posts["bytes_each"] - homes - stream - post_expiring
    dm_expiring = _family_sum(dms, lambda _, f: bool(f["expires"]))
    parts = {
        "members": n * members["bytes_each"],
        "posts": n_posts * (post_kept + post_expiring),
        "stream": min(n_posts, STREAM_CAP) * stream,
        "homes": n * large["full_home_bytes"],
        "dms": n_dms * dms["bytes_each"],
    }
    total = sum(parts.values())
    expiring = n_posts * post_expiring + n_dms * dm_expiring
    cpu = reads["cpu_ms_per_read"]
    cpu_ms = cpu["slope"] * EXAMPLE_PAGE + cpu["intercept"]
    cores = EXAMPLE_READS_PER_S * cpu_ms / 1000
    depth = EXAMPLE_OUTAGE_S * EXAMPLE_POSTS_PER_S
    drain_s = outbox["wait_s"] + depth / outbox["entries_per_s"]
    return "\n".join([
        f"- Members: {n:,} x {members['bytes_each']:.0f} B = {_size(parts['members'])}"
        f" ({members['follows_each']} follows each; add"
        f" {large['large_follower_set_entry_bytes']:.0f} B per follower of an account past"
        f" {large['set_max_intset_entries']} followers).",
        f"- Posts: {EXAMPLE_POSTS_EACH} each, {n_posts:,} x ({post_kept:.0f} B kept +"
        f" {post_expiring:.0f} B that expire) = {_size(parts['posts'])}; the event stream stops"
        f" at {STREAM_CAP:,} entries of {stream:.0f} B = {_size(parts['stream'])}.",
        f"- Home timelines: they stop growing at {large['home_cap']} posts"
        f" (`FAILWHALE_TIMELINE_HOME_MAX_LEN`); all full, {n:,} x"
        f" {_size(large['full_home_bytes'])} = {_size(parts['homes'])}.",
        f"- DMs: {EXAMPLE_DMS_EACH} each, {n_dms:,} x {dms['bytes_each']:.0f} B ="
        f" {_size(parts['dms'])} ({dm_expiring:.0f} B of each expire).",
        f"- Redis in all: about **{_size(total)}** of data, of which {_size(expiring)} are keys"
        f" that expire (idempotency records after 24 h, the timeline's copy of a post after 30"
        f" days): the figure for a stack whose posts and DMs are all recent. Give Redis some 1.5x"
        f" the data for the allocator and a rewrite of its append-only file.",
        f"- Reads: {EXAMPLE_READS_PER_S:,} home reads/s of {EXAMPLE_PAGE} posts at"
        f" {cpu_ms:.2f} ms each = **{cores:.1f} cores** across gateway, timeline replicas and"
        f" Redis.",
        f"- Outages: a {EXAMPLE_OUTAGE_S} s outage of posts at {EXAMPLE_POSTS_PER_S} posts/s"
        f" leaves {depth:,} entries in the outbox, delivered {drain_s:.0f} s after posts"
        f" returns (at most {MAX_ENTRIES:,} entries wait; past that a post is refused).",
    ])  # fmt: skip


def markdown(growth: dict[str, Any]) -> str:
    mode = " (--quick)" if growth.get("quick") else ""
    load = growth.get("load_average_1m")
    if load:
        mode += f", load average {load[0]:.1f} at the start and {load[1]:.1f} at the end"
    return "\n\n".join([
        table(growth),
        "Where the bytes go (MEMORY USAGE per key family, slopes over the same steps):",
        breakdown(growth),
        f"A stack for {EXAMPLE_MEMBERS:,} members, from these figures:",
        example(growth),
        f"Measured{mode} on a local stack; raw figures in bench/results.json, section `growth`.",
    ])  # fmt: skip
