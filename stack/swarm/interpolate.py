"""Compose-style `${...}` substitution (`${VAR}`, `${VAR:-default}`, `${VAR-default}`,
`${VAR:?error}`, `${VAR?error}`, `$VAR`, `$$`), so the stack file is written with concrete values
and reads the same variables as compose does, from the environment and then `.env`."""

import re
from collections.abc import Mapping

_PATTERN = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<named>[_A-Za-z][_A-Za-z0-9]*)"
    r"|\{(?P<braced>[_A-Za-z][_A-Za-z0-9]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})"
)
_VARIABLE = re.compile(r"\$\{?([_A-Za-z][_A-Za-z0-9]*)")


class MissingVariable(ValueError):
    """A `${VAR:?message}` whose variable is unset: the message says what to do."""


def substitute(text: str, values: Mapping[str, str]) -> str:
    """The text with every reference replaced, as compose would."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["named"] or match["braced"]
        op, arg = match["op"], match["arg"] or ""
        value = values.get(name)
        unset = value is None or (op is not None and op.startswith(":") and value == "")
        if not unset:
            return str(value)
        if op in (":?", "?"):
            raise MissingVariable(f"{name}: {arg or 'not set'}")
        return arg if op in (":-", "-") else ""

    return _PATTERN.sub(replace, text)


def variables(text: str) -> set[str]:
    """The names the text refers to (`$$` escapes are not references)."""
    return set(_VARIABLE.findall(text.replace("$$", "")))


def escape(text: str) -> str:
    """Text that a stack file's own substitution leaves as it is."""
    return text.replace("$", "$$")
