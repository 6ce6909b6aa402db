"""The chaos journal: what each fault changed and what it takes to undo it (a typed undo record,
one of `chaos.backends.records`), written before the change is made and updated after its
revert, so that a sweep can undo what a killed runner left.

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
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, field_validator

from chaos.backends.records import RECORDS
from chaos.undo import UndoRecord

DEFAULT_DIR = Path(__file__).resolve().parents[1] / ".local" / "chaos"
# The file's format: 2 has typed undo records (a `kind` each). Format 1 (no `format` key) had
# untyped `{"action": ...}` dicts: a format-1 file with faults still to undo is refused rather
# than guessed at; one with nothing left to undo reads as empty (and is rewritten as format 2).
FORMAT = 2

State = Literal["applying", "applied", "reverting", "reverted"]


class JournalFormatError(RuntimeError):
    """The file was written in a format this version does not read."""


class Entry(BaseModel):
    """One fault. `undo` is the record that undoes it without the runner's memory."""

    model_config = ConfigDict(extra="ignore", validate_assignment=False)

    id: str
    kind: str
    target: str
    mechanism: str
    undo: SerializeAsAny[UndoRecord]
    state: State = "applying"
    peer: str | None = None
    applied_at: float = Field(default_factory=time.time)
    expires_at: float = 0.0
    reverted_at: float | None = None
    owner_pid: int = Field(default_factory=os.getpid)
    note: str = ""

    @field_validator("undo", mode="before")
    @classmethod
    def typed_record(cls, value: Any) -> Any:
        """A record as read from the file becomes the model its `kind` names."""
        return RECORDS.validate_python(value) if isinstance(value, dict) else value


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
            for n, entry in enumerate(entries):
                if entry.id == entry_id:
                    changed = entry.model_copy(update=changes)
                    entries[n] = changed
                    self._write(entries)
                    return changed
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
        if data.get("format") != FORMAT:
            left = [e for e in data.get("entries", []) if e.get("state") != "reverted"]
            if not left:
                return []  # nothing to undo: history in the old format is simply dropped
            raise JournalFormatError(
                f"{self.path} was written by an earlier version of failwhale (format "
                f"{data.get('format', 1)}, untyped undo records) and still lists {len(left)} "
                "faults to undo, which this version does not read: undo them with that "
                "version's `failwhale chaos sweep`, or remove the file and sweep again (the "
                "docker sweep's scan finds what a run left without a journal)"
            )
        return [Entry.model_validate(e) for e in data.get("entries", [])]

    def _write(self, entries: list[Entry]) -> None:
        # Written aside and renamed: a runner killed mid-write leaves the previous journal whole.
        tmp = self.path.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
        payload = {
            "format": FORMAT,
            "origin": self.origin,
            "entries": [e.model_dump(mode="json") for e in entries],
        }
        tmp.write_text(json.dumps(payload, indent=2))
        os.replace(tmp, self.path)
