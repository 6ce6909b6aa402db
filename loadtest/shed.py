"""Answers the gateway shed (503 problem+json `/overloaded`, with Retry-After): how the load
recognises them, how long it then holds off, and how it names them to Locust, so that the
per-request log (chaos.request_log) counts them as `shed`, apart from errors."""

from typing import Any

SHED = "shed"  # how a shed answer's Locust failure message begins
MAX_BACKOFF_S = 30.0


def is_shed(status: int, body: Any) -> bool:
    """Whether an answer is the gateway shedding load (503 problem+json `/overloaded`)."""
    kind = body.get("type") if isinstance(body, dict) else None
    return status == 503 and isinstance(kind, str) and kind.endswith("/overloaded")


def retry_after_s(headers: Any) -> float:
    """A Retry-After in seconds (1 when missing or not a number), at most MAX_BACKOFF_S."""
    raw = headers.get("Retry-After") if headers else None
    try:
        return min(MAX_BACKOFF_S, max(0.0, float(raw))) if raw is not None else 1.0
    except ValueError:
        return 1.0
