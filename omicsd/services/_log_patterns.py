"""CloudWatch Logs filter patterns (the subset FilterLogEvents supports) compiled into predicates.

Owns: :func:`compile_pattern`, which turns a ``filterPattern`` into a function of an event's message.
Supported forms:

- empty (or only blanks): every event matches;
- terms: ``ERROR Exception`` — every term must appear (case-sensitive substring);
- quoted phrases: ``"Task failed"`` — one term that may hold blanks and punctuation;
- optional terms: ``?ERROR ?WARN`` — at least one of them must appear (together with every plain term);
- excluded terms: ``ERROR -Retrying`` — the term must not appear;
- regular expressions: ``%status [0-9]+%`` — Python ``re.search`` on the message;
- JSON patterns: ``{ $.status = "FAILED" }``, ``{ $.metrics.cpusMaximum > 2 && $.name = "greet*" }`` —
  comparisons ``= != < <= > >=`` of a ``$.``-path against a string (``*`` is a wildcard), a number, ``true``,
  ``false`` or ``null``, joined by ``&&`` (binding tighter) and ``||``; messages that are not JSON objects
  never match.

Anything else (space-delimited ``[a, b]`` patterns, parentheses in JSON patterns, ``IS NULL``...) raises
:class:`PatternError`, which the logs service reports as ``InvalidParameterException``.
Must not: read logs or know about streams.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from typing import Any

Predicate = Callable[[str], bool]

_CLAUSE = re.compile(r"\s*\$\.(?P<path>[A-Za-z0-9_.\[\]-]+)\s*(?P<op>!=|<=|>=|=|<|>)\s*(?P<value>.+?)\s*$")
_MISSING = object()


class PatternError(ValueError):
    """The filter pattern uses syntax omicsd does not support."""


def compile_pattern(pattern: str | None) -> Predicate:
    """A predicate over messages for a CloudWatch Logs filter pattern.

    Raises:
        PatternError: the pattern is malformed or uses unsupported syntax.
    """
    text = (pattern or "").strip()
    if not text:
        return lambda message: True
    if text.startswith("{"):
        return _json_pattern(text)
    if text.startswith("["):
        raise PatternError("Space-delimited filter patterns ([field, ...]) are not supported by omicsd")
    if len(text) >= 2 and text.startswith("%") and text.endswith("%"):
        try:
            regex = re.compile(text[1:-1])
        except re.error as exc:
            raise PatternError(f"Invalid regular expression in filter pattern: {exc}") from None
        return lambda message: regex.search(message) is not None
    return _term_pattern(text)


# -- terms ---------------------------------------------------------------------------------------------------


def _term_pattern(text: str) -> Predicate:
    try:
        tokens = shlex.split(text, posix=True)
    except ValueError as exc:
        raise PatternError(f"Invalid filter pattern: {exc}") from None
    required: list[str] = []
    optional: list[str] = []
    excluded: list[str] = []
    for token in tokens:
        if token.startswith("?") and len(token) > 1:
            optional.append(token[1:])
        elif token.startswith("-") and len(token) > 1:
            excluded.append(token[1:])
        elif token:
            required.append(token)

    def matches(message: str) -> bool:
        if any(term not in message for term in required):
            return False
        if any(term in message for term in excluded):
            return False
        return not optional or any(term in message for term in optional)

    return matches


# -- JSON ----------------------------------------------------------------------------------------------------


def _json_pattern(text: str) -> Predicate:
    if not text.endswith("}"):
        raise PatternError("A JSON filter pattern must end with '}'")
    body = text[1:-1].strip()
    if not body:
        raise PatternError("A JSON filter pattern needs at least one comparison")
    alternatives = [[_clause(part) for part in _split(branch, "&&")] for branch in _split(body, "||")]

    def matches(message: str) -> bool:
        try:
            document = json.loads(message)
        except ValueError:
            return False
        if not isinstance(document, dict):
            return False
        return any(all(check(document) for check in branch) for branch in alternatives)

    return matches


def _split(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside double quotes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    index = 0
    while index < len(text):
        char = text[index]
        if char == '"':
            quoted = not quoted
        if not quoted and text.startswith(separator, index):
            parts.append("".join(current))
            current = []
            index += len(separator)
            continue
        if not quoted and char in "()":
            raise PatternError("Parentheses in JSON filter patterns are not supported by omicsd")
        current.append(char)
        index += 1
    if quoted:
        raise PatternError("Unterminated string in JSON filter pattern")
    parts.append("".join(current))
    return parts


def _clause(text: str) -> Callable[[dict[str, Any]], bool]:
    found = _CLAUSE.match(text)
    if found is None:
        raise PatternError(f"Unsupported JSON filter pattern clause: {text.strip()!r}")
    path = _path(found.group("path"))
    op = found.group("op")
    expected = _literal(found.group("value"))
    if isinstance(expected, str) and op not in ("=", "!="):
        raise PatternError(f"Operator {op} needs a number, got a string in {text.strip()!r}")

    def check(document: dict[str, Any]) -> bool:
        actual = _lookup(document, path)
        if op in ("=", "!="):
            equal = actual is not _MISSING and _equals(actual, expected)
            return equal if op == "=" else not equal
        if isinstance(actual, bool) or not isinstance(actual, int | float) or not isinstance(expected, int | float):
            return False
        return _ORDER[op](actual, expected)

    return check


_ORDER: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _path(text: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", text):
        steps.append(int(part[1:-1]) if part.startswith("[") else part)
    if not steps:
        raise PatternError(f"Invalid JSON path $.{text}")
    return steps


def _literal(text: str) -> Any:
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        return text[1:-1]
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        if re.fullmatch(r"[\w*.:/-]+", text):
            return text
        raise PatternError(f"Unsupported value in JSON filter pattern: {text!r}") from None


def _lookup(document: Any, path: list[str | int]) -> Any:
    current = document
    for step in path:
        if isinstance(step, int):
            if not isinstance(current, list) or step >= len(current):
                return _MISSING
            current = current[step]
        else:
            if not isinstance(current, dict) or step not in current:
                return _MISSING
            current = current[step]
    return current


def _equals(actual: Any, expected: Any) -> bool:
    if isinstance(expected, str):
        if not isinstance(actual, str):
            return False
        if "*" not in expected:
            return actual == expected
        return re.fullmatch(".*".join(re.escape(part) for part in expected.split("*")), actual, re.S) is not None
    if isinstance(expected, bool) or expected is None:
        return actual is expected
    if isinstance(actual, bool) or not isinstance(actual, int | float):
        return False
    return float(actual) == float(expected)
