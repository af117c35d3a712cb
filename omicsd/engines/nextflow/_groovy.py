"""A small, lenient reader of Nextflow's Groovy: enough to find params, profiles and settings.

Owns: a tokenizer that knows Groovy comments and string forms (so braces inside them do not count), a
bracket-balance check (the one syntax error cheap enough to report), a reader of ``nextflow.config``
statements (assignments, blocks, ``includeConfig``) into flat dotted settings, and a scanner of ``params.x``
assignments and reads in a script.

Must not: evaluate anything, or claim more than it understands: unknown statements are skipped, never
reported as errors. Nextflow itself is the authority; it cannot run on this machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from omicsd.errors import DefinitionError

_NAME = re.compile(r"[A-Za-z_$][\w$]*")
_NUMBER = re.compile(r"\d[\w.]*")
_OPERATORS = ("==~", "?:", "?.", "*.", "=~", "==", "!=", "<=", ">=", "&&", "||", "->", "..", "+=", "-=")
_SLASHY_AFTER = {"=", "(", ",", ":", "[", "{", "~", "!", "&&", "||", "?", "return", "=~", "==~"}
_OPENERS = {"{": "}", "(": ")", "[": "]"}
_CLOSERS = {"}": "{", ")": "(", "]": "["}
_GSTRING_PARAM = re.compile(r"(?<![\w.])params\.([A-Za-z_]\w*)(\s*\?:)?")
_SHELL_PARAM = re.compile(r"!\{\s*params\.([A-Za-z_]\w*)()")
_PROJECT_DIR = re.compile(r"^\$\{?(projectDir|baseDir)\}?/")
_MAX_INCLUDE_DEPTH = 10


@dataclass(frozen=True)
class Token:
    kind: str  # name | number | string | gstring | regex | op | nl
    text: str
    line: int


@dataclass(frozen=True)
class Setting:
    path: tuple[str, ...]
    value: str | None  # literal text of the value; None when the path opens a block
    source: str
    line: int


@dataclass
class ScriptFacts:
    assigned: list[str] = field(default_factory=list)
    read: list[str] = field(default_factory=list)
    soft: set[str] = field(default_factory=set)  # read with a fallback (params.x ?: y)
    dsl: str | None = None


def tokenize(text: str, source: str) -> list[Token]:
    tokens: list[Token] = []
    i, line, n = 0, 1, len(text)
    if text.startswith("#!"):
        i = text.find("\n") if "\n" in text else n
    while i < n:
        c = text[i]
        if c == "\n":
            tokens.append(Token("nl", "\n", line))
            line, i = line + 1, i + 1
        elif c in " \t\r\f":
            i += 1
        elif c == "\\" and text.startswith("\n", i + 1):
            line, i = line + 1, i + 2
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise DefinitionError(f"{source}:{line}: unterminated comment")
            line += text.count("\n", i, end)
            i = end + 2
        elif text.startswith(('"""', "'''"), i):
            end = _string_end(text, i + 3, text[i : i + 3], multiline=True)
            if end < 0:
                raise DefinitionError(f"{source}:{line}: unterminated string")
            kind = "gstring" if c == '"' else "string"
            tokens.append(Token(kind, text[i + 3 : end], line))
            line += text.count("\n", i, end)
            i = end + 3
        elif c in "'\"":
            end = _string_end(text, i + 1, c, multiline=False)
            if end < 0:
                raise DefinitionError(f"{source}:{line}: unterminated string")
            tokens.append(Token("gstring" if c == '"' else "string", text[i + 1 : end], line))
            i = end + 1
        elif c == "/" and _slashy_allowed(tokens):
            end = _string_end(text, i + 1, "/", multiline=False)
            if end < 0:
                tokens.append(Token("op", "/", line))
                i += 1
            else:
                tokens.append(Token("regex", text[i + 1 : end], line))
                i = end + 1
        elif match := _NAME.match(text, i):
            tokens.append(Token("name", match.group(), line))
            i = match.end()
        elif match := _NUMBER.match(text, i):
            tokens.append(Token("number", match.group(), line))
            i = match.end()
        else:
            op = next((op for op in _OPERATORS if text.startswith(op, i)), c)
            tokens.append(Token("op", op, line))
            i += len(op)
    return tokens


def check_balanced(tokens: list[Token], source: str) -> None:
    stack: list[Token] = []
    for token in tokens:
        if token.kind != "op":
            continue
        if token.text in _OPENERS:
            stack.append(token)
        elif token.text in _CLOSERS:
            if not stack:
                raise DefinitionError(f"{source}:{token.line}: unexpected '{token.text}'")
            opener = stack.pop()
            if _OPENERS[opener.text] != token.text:
                raise DefinitionError(
                    f"{source}:{token.line}: '{token.text}' does not close '{opener.text}' opened on line {opener.line}"
                )
    if stack:
        opener = stack[-1]
        raise DefinitionError(f"{source}:{opener.line}: '{opener.text}' is never closed")


def read_config(root: Path, name: str, warnings: list[str]) -> list[Setting]:
    reader = _ConfigReader(root, warnings)
    reader.include(name, (), depth=0)
    return reader.settings


def scan_script(tokens: list[Token]) -> ScriptFacts:
    facts = ScriptFacts()
    texts = [token.text for token in tokens]
    for index, token in enumerate(tokens):
        if token.kind in ("gstring", "string"):
            pattern = _GSTRING_PARAM if token.kind == "gstring" else _SHELL_PARAM
            for match in pattern.finditer(token.text):
                _note_read(facts, match.group(1), soft=bool(match.group(2)))
            continue
        if token.kind != "name" or (index and texts[index - 1] in (".", "?.", "*.")):
            continue
        if token.text == "params" and texts[index + 1 : index + 2] == ["."]:
            member = tokens[index + 2] if index + 2 < len(tokens) else None
            if member is None or member.kind != "name":
                continue
            after = texts[index + 3] if index + 3 < len(tokens) else ""
            if after == "=":
                if member.text not in facts.assigned:
                    facts.assigned.append(member.text)
            else:
                _note_read(facts, member.text, soft=after == "?:")
        elif (
            token.text == "nextflow"
            and texts[index + 1 : index + 6] == [".", "enable", ".", "dsl", "="]
            and index + 6 < len(tokens)
        ):
            facts.dsl = texts[index + 6]
    return facts


# -- tokenizer helpers -------------------------------------------------------------------------------------


def _string_end(text: str, start: int, quote: str, *, multiline: bool) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(quote, i):
            return i
        if text[i] == "\n" and not multiline:
            return -1
        i += 1
    return -1


def _slashy_allowed(tokens: list[Token]) -> bool:
    previous = next((token for token in reversed(tokens) if token.kind != "nl"), None)
    return previous is None or (previous.kind in ("op", "name") and previous.text in _SLASHY_AFTER)


def _note_read(facts: ScriptFacts, name: str, *, soft: bool) -> None:
    if name not in facts.read:
        facts.read.append(name)
    if soft:
        facts.soft.add(name)


# -- config reader -----------------------------------------------------------------------------------------


class _ConfigReader:
    def __init__(self, root: Path, warnings: list[str]) -> None:
        self.root = root
        self.warnings = warnings
        self.settings: list[Setting] = []
        self.active: list[Path] = []

    def include(self, name: str, scope: tuple[str, ...], *, depth: int) -> None:
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            self.warnings.append(f"includeConfig {name!r} not found in the archive; ignored")
            return
        if path in self.active or depth > _MAX_INCLUDE_DEPTH:
            raise DefinitionError(f"{name}: includeConfig loop")
        source = path.relative_to(self.root).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exn:
            raise DefinitionError(f"{source}: cannot read: {exn}") from exn
        tokens = tokenize(text, source)
        check_balanced(tokens, source)
        self.active.append(path)
        try:
            _Block(self, tokens, source, depth).statements(scope)
        finally:
            self.active.pop()


class _Block:
    def __init__(self, reader: _ConfigReader, tokens: list[Token], source: str, depth: int) -> None:
        self.reader = reader
        self.tokens = tokens
        self.source = source
        self.depth = depth
        self.pos = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def statements(self, scope: tuple[str, ...]) -> None:
        while (token := self.peek()) is not None:
            if token.kind == "nl" or token.text == ";":
                self.pos += 1
            elif token.text == "}":
                return
            elif token.kind == "name" and token.text == "includeConfig":
                self.pos += 1
                self._include(scope)
            else:
                self._statement(scope, token.line)

    def _statement(self, scope: tuple[str, ...], line: int) -> None:
        path = self._path()
        token = self.peek()
        if path and token is not None and token.text == "=":
            self.pos += 1
            self.reader.settings.append(Setting(scope + path, self._value(), self.source, line))
        elif path and token is not None and token.text == "{":
            self.reader.settings.append(Setting(scope + path, None, self.source, line))
            self._block(scope + path)
        else:
            self._skip(scope)

    def _path(self) -> tuple[str, ...]:
        parts: list[str] = []
        while (token := self.peek()) is not None and token.kind in ("name", "string", "gstring"):
            parts.append(token.text)
            self.pos += 1
            following = self.peek()
            if following is None or following.text != ".":
                break
            self.pos += 1
        return tuple(parts)

    def _block(self, scope: tuple[str, ...]) -> None:
        self.pos += 1  # "{"
        self.statements(scope)
        self.pos += 1  # "}" (balance was checked)

    def _value(self) -> str:
        taken: list[Token] = []
        depth = 0
        while (token := self.peek()) is not None:
            if depth == 0 and (token.kind == "nl" or token.text in (";", "}")):
                break
            depth += (token.text in _OPENERS) - (token.text in _CLOSERS) if token.kind == "op" else 0
            taken.append(token)
            self.pos += 1
        if len(taken) == 1 and taken[0].kind != "op":
            return taken[0].text
        return " ".join(token.text for token in taken)

    def _skip(self, scope: tuple[str, ...]) -> None:
        depth = 0
        while (token := self.peek()) is not None:
            if depth == 0 and (token.kind == "nl" or token.text in (";", "}")):
                return
            if depth == 0 and token.text == "{":
                self._block((*scope, "<block>"))
                continue
            if token.kind == "op":
                depth += (token.text in _OPENERS) - (token.text in _CLOSERS)
            self.pos += 1

    def _include(self, scope: tuple[str, ...]) -> None:
        token = self.peek()
        wrapped = token is not None and token.text == "("
        if wrapped:
            self.pos += 1
            token = self.peek()
        if token is None or token.kind not in ("string", "gstring"):
            self.reader.warnings.append(f"{self.source}: includeConfig with a computed path ignored")
            self._skip(scope)
            return
        self.pos += 1
        name = _PROJECT_DIR.sub("", token.text)
        if "$" in name:
            self.reader.warnings.append(f"{self.source}: includeConfig {token.text!r} ignored")
        else:
            base = Path(self.source).parent.as_posix()
            target = name if _PROJECT_DIR.match(token.text) or base == "." else f"{base}/{name}"
            self.reader.include(target, scope, depth=self.depth + 1)
        if wrapped and (closing := self.peek()) is not None and closing.text == ")":
            self.pos += 1
