from __future__ import annotations

import pytest

from omicsd.services._log_patterns import PatternError, compile_pattern


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    [
        ("", "anything", True),
        ("   ", "anything", True),
        ("ERROR", "an ERROR here", True),
        ("ERROR", "an error here", False),
        ("ERROR disk", "ERROR: disk full", True),
        ("ERROR disk", "ERROR: memory", False),
        ('"disk full"', "ERROR: disk full", True),
        ('"disk full"', "full disk", False),
        ("?ERROR ?WARN", "WARN slow", True),
        ("?ERROR ?WARN", "INFO fine", False),
        ("Task ?ERROR ?WARN", "Task WARN", True),
        ("Task ?ERROR ?WARN", "Job WARN", False),
        ("ERROR -Retrying", "ERROR Retrying", False),
        ("ERROR -Retrying", "ERROR final", True),
        ("%exit status [1-9]%", "exit status 3", True),
        ("%exit status [1-9]%", "exit status 0", False),
        ('{ $.status = "FAILED" }', '{"status": "FAILED"}', True),
        ('{ $.status = "FAILED" }', '{"status": "COMPLETED"}', False),
        ('{ $.status != "FAILED" }', '{"status": "COMPLETED"}', True),
        ('{ $.status = "FAILED" }', "status FAILED", False),
        ("{ $.name = greet* }", '{"name": "greet-1"}', True),
        ('{ $.name = "*-1" }', '{"name": "greet-1"}', True),
        ("{ $.metrics.cpus >= 2 }", '{"metrics": {"cpus": 2}}', True),
        ("{ $.metrics.cpus < 2 }", '{"metrics": {"cpus": 2}}', False),
        ("{ $.metrics.cpus > 1 }", '{"metrics": {"cpus": "4"}}', False),
        ("{ $.cached = true }", '{"cached": true}', True),
        ("{ $.cached = false }", '{"cached": true}', False),
        ("{ $.reason = null }", '{"reason": null}', True),
        ("{ $.items[1] = 5 }", '{"items": [4, 5]}', True),
        ('{ $.a = 1 && $.b = "x" }', '{"a": 1, "b": "x"}', True),
        ('{ $.a = 1 && $.b = "x" }', '{"a": 1, "b": "y"}', False),
        ('{ $.a = 2 || $.b = "x" }', '{"a": 1, "b": "x"}', True),
        ('{ $.a = 2 || $.b = "x" && $.c = 3 }', '{"a": 1, "b": "x", "c": 4}', False),
        ('{ $.text = "a && b" }', '{"text": "a && b"}', True),
        ("{ $.missing != 1 }", '{"other": 1}', True),
    ],
)
def test_pattern_matches(pattern: str, message: str, expected: bool) -> None:
    assert compile_pattern(pattern)(message) is expected


@pytest.mark.parametrize(
    "pattern",
    ["[ip, user]", "{ $.a = 1", "{ }", "{ ($.a = 1) }", '{ $.a > "x" }', "{ a = 1 }", '"unterminated', "%[%"],
)
def test_unsupported_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(PatternError):
        compile_pattern(pattern)
