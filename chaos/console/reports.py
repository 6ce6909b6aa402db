"""The reports directory as the console sees it: every run folder (a summary.json) and every
comparison (a compare.json) directly under it, CLI and console runs alike, newest first; and
their files, served only from inside their own folder (anything else is a 404)."""

import json
import re
from pathlib import Path
from typing import Any

from services.common.errors import NotFound

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
MAX_FILES = 400


class Reports:
    def __init__(self, root: Path) -> None:
        self.root = root

    def listing(self) -> list[dict[str, Any]]:
        if not self.root.is_dir():
            return []
        found = [entry for path in self.root.iterdir() if (entry := self._entry(path))]
        return sorted(found, key=lambda entry: entry["created_at"], reverse=True)

    def folder(self, name: str) -> Path:
        """A report folder by name: one directly under the reports directory, with a summary."""
        if not NAME.match(name) or name in (".", ".."):
            raise NotFound(f"no report {name!r}")
        folder = self.root / name
        if folder.is_symlink() or not folder.is_dir() or _marker(folder) is None:
            raise NotFound(f"no report {name!r}")
        return folder

    def file(self, name: str, path: str) -> Path:
        """A file of that folder; a path that leaves it (.., absolute, a symlink out) is a 404."""
        folder = self.folder(name).resolve()
        try:
            target = (folder / path).resolve(strict=True)
        except (OSError, RuntimeError):
            raise NotFound(f"no file {path!r} in report {name!r}") from None
        if not target.is_relative_to(folder) or not target.is_file():
            raise NotFound(f"no file {path!r} in report {name!r}")
        return target

    def _entry(self, folder: Path) -> dict[str, Any] | None:
        if not NAME.match(folder.name) or folder.is_symlink() or not folder.is_dir():
            return None
        marker = _marker(folder)
        if marker is None:
            return None
        try:
            data = json.loads(marker.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        kind = "run" if marker.name == "summary.json" else "compare"
        verdict = data.get("verdict")
        if kind == "compare" and verdict is None:
            verdicts = data.get("verdicts") or {}
            verdict = " / ".join(f"{k}: {v}" for k, v in verdicts.items()) or None
        return {
            "name": folder.name,
            "scenario": data.get("scenario"),
            "verdict": verdict,
            "backend": data.get("backend"),
            "resilience": data.get("resilience"),
            "created_at": marker.stat().st_mtime,
            "kind": kind,
            "files": _files(folder),
        }


def _marker(folder: Path) -> Path | None:
    for name in ("summary.json", "compare.json"):
        if (folder / name).is_file():
            return folder / name
    return None


def _files(folder: Path) -> list[str]:
    files = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink()
    )
    return files[:MAX_FILES]
