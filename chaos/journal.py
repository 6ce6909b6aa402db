"""The chaos journal: what each fault changed and what it takes to undo it, written before the
change is made and updated after its revert, so that a sweep can undo what a killed runner left.

One JSON file per backend and scope (the compose project, or the local stack's workdir). Threads
of one runner share a `Journal`; other processes (a sweep, a dead-man timer) take a file lock.
"""

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

DEFAULT_DIR = Path(__file__).resolve().parents[1] / ".local" / "chaos"

State = Literal["applying", "applied", "reverting", "reverted"]


@dataclass
class Entry:
    """One fault. `undo` holds what the backend needs to undo it without the runner's memory
    (container ids, pids with their start times, iptables markers, hook targets)."""

    id: str
    kind: str
    target: str
    mechanism: str
    undo: dict[str, Any]
    state: State = "applying"
    peer: str | None = None
    applied_at: float = field(default_factory=time.time)
    expires_at: float = 0.0
    reverted_at: float | None = None
    owner_pid: int = field(default_factory=os.getpid)
    note: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Entry":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class Journal:
    """A JSON file of entries keyed by id. `origin` says which backend and scope wrote it, so that
    a sweep or a dead-man timer can rebuild the backend from the file alone."""

    def __init__(self, path: Path, origin: dict[str, str]) -> None:
        self.path = path
        self.origin = origin
        self._lock = threading.RLock()

    @classmethod
    def for_scope(cls, backend: str, scope: str, directory: Path | None = None) -> "Journal":
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in scope)
        path = (directory or DEFAULT_DIR) / f"{backend}-{safe}.json"
        return cls(path, {"backend": backend, "scope": scope})

    @classmethod
    def open(cls, path: Path) -> "Journal":
        """An existing journal, with the origin it was written with."""
        data = json.loads(path.read_text())
        return cls(path, {str(k): str(v) for k, v in data.get("origin", {}).items()})

    # -- reading -----------------------------------------------------------------------------

    def entries(self) -> list[Entry]:
        with self._locked():
            return self._read()

    def pending(self) -> list[Entry]:
        """Entries not known to be reverted: applying ones too, since a runner may have died
        between writing the entry and finishing the action."""
        return [e for e in self.entries() if e.state != "reverted"]

    def get(self, entry_id: str) -> Entry | None:
        return next((e for e in self.entries() if e.id == entry_id), None)

    # -- writing -----------------------------------------------------------------------------

    def record(self, entry: Entry) -> None:
        with self._locked():
            entries = [e for e in self._read() if e.id != entry.id]
            entries.append(entry)
            self._write(entries)

    def update(self, entry_id: str, **changes: Any) -> Entry:
        with self._locked():
            entries = self._read()
            for entry in entries:
                if entry.id == entry_id:
                    for name, value in changes.items():
                        setattr(entry, name, value)
                    self._write(entries)
                    return entry
        raise KeyError(entry_id)

    def mark_reverted(self, entry_id: str, note: str = "") -> None:
        with contextlib.suppress(KeyError):
            self.update(entry_id, state="reverted", reverted_at=time.time(), note=note)

    def forget_reverted(self) -> int:
        """Drop reverted entries (after a sweep): the journal stays as long as what is undone."""
        with self._locked():
            entries = self._read()
            kept = [e for e in entries if e.state != "reverted"]
            self._write(kept)
            return len(entries) - len(kept)

    # -- file --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> list[Entry]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        return [Entry.from_json(e) for e in data.get("entries", [])]

    def _write(self, entries: list[Entry]) -> None:
        # Written aside and renamed: a runner killed mid-write leaves the previous journal whole.
        tmp = self.path.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
        payload = {"origin": self.origin, "entries": [asdict(e) for e in entries]}
        tmp.write_text(json.dumps(payload, indent=2))
        os.replace(tmp, self.path)
