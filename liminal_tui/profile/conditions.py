"""``when = "..."``: a small comparison grammar over variables and the last status. Parsed here, never
evaluated as code.

Grammar (lowest precedence first)::

    expr     := and ("or" and)*
    and      := not ("and" not)*
    not      := "not" not | atom
    atom     := "(" expr ")" | NAME "exists" | NAME "missing" | value [OP value]
    OP       := "==" | "!=" | "<" | ">" | "<=" | ">=" | "in" | "not in"
    value    := NAME | "text" | 'text' | NUMBER | true | false | "[" value ("," value)* "]"

``NAME`` is a variable (``token``, ``creds.username``) or ``status``, the last HTTP status this user got
(0 before any). A comparison of two values that both read as numbers is numeric; otherwise as text.
A variable without a value makes its comparison false (``exists`` asks for it). A value alone is true
when it is set, not empty, not 0 and not false. Examples::

    when = "status == 200"
    when = "ids exists and role in ['admin', 'editor']"
    when = "not (cart_items < 1)"
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

__all__ = ["ConditionError", "compile_condition", "condition_variables"]

Lookup = Callable[[str], Any]
"""A variable's value by name, or :data:`MISSING`."""
Cond = Callable[[Lookup], bool]

MISSING = object()
_TOKEN = re.compile(
    r"""\s*(?:(?P<num>-?\d+(?:\.\d+)?)(?![\w.])|(?P<str>"[^"]*"|'[^']*')|(?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)"""
    r"""|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*))"""
)
_KEYWORDS = {"and", "or", "not", "in", "exists", "missing", "true", "false"}


class ConditionError(ValueError):
    """A ``when`` that does not parse."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ConditionError(f"cannot read '{text[pos:].strip()[:20]}' in when = \"{text}\"")
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "name" and value in _KEYWORDS:
            kind = "kw"
        out.append((kind, value))
        pos = m.end()
    return out


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _compare(op: str, a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return False
    if op in ("in", "not in"):
        if isinstance(b, (list, tuple)):
            found = any(_compare("==", a, item) for item in b)
        elif isinstance(b, dict):
            found = str(a) in b
        else:
            found = str(a) in str(b)
        return found if op == "in" else not found
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        a, b = na, nb
    elif op in ("==", "!="):
        a, b = _text(a), _text(b)
    else:
        return False  # an order between a number and a word: false, not an error
    return {"==": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _truthy(v: Any) -> bool:
    if v is MISSING or v is None:
        return False
    if isinstance(v, str):
        return v not in ("", "0", "false")
    return bool(v)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.names: set[str] = set()

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            want = f"'{value}'" if value else "more"
            raise ConditionError(f"expected {want} in when = \"{self.text}\"")
        self.i += 1
        return tok

    def parse(self) -> Cond:
        if not self.toks:
            raise ConditionError("when is empty")
        cond = self.expr()
        if self.peek() is not None:
            raise ConditionError(f"unexpected '{self.peek()[1]}' in when = \"{self.text}\"")  # type: ignore[index]
        return cond

    def expr(self) -> Cond:
        left = self.conj()
        while self.peek() == ("kw", "or"):
            self.take()
            a, b = left, self.conj()
            left = lambda get, a=a, b=b: a(get) or b(get)  # noqa: E731
        return left

    def conj(self) -> Cond:
        left = self.neg()
        while self.peek() == ("kw", "and"):
            self.take()
            a, b = left, self.neg()
            left = lambda get, a=a, b=b: a(get) and b(get)  # noqa: E731
        return left

    def neg(self) -> Cond:
        if self.peek() == ("kw", "not"):
            self.take()
            inner = self.neg()
            return lambda get: not inner(get)
        return self.atom()

    def atom(self) -> Cond:
        tok = self.peek()
        if tok == ("op", "("):
            self.take()
            inner = self.expr()
            self.take(")")
            return inner
        if tok is not None and tok[0] == "name":
            nxt = self.toks[self.i + 1] if self.i + 1 < len(self.toks) else None
            if nxt in (("kw", "exists"), ("kw", "missing")):
                self.take()
                self.take()
                name, present = tok[1], nxt[1] == "exists"  # type: ignore[index]
                self.names.add(name)
                return lambda get: (get(name) is not MISSING) == present
        left = self.value()
        tok = self.peek()
        op = None
        if tok is not None and tok[0] == "op" and tok[1] in ("==", "!=", "<", ">", "<=", ">="):
            op = self.take()[1]
        elif tok == ("kw", "in"):
            op = self.take()[1]
        elif tok == ("kw", "not") and self.i + 1 < len(self.toks) and self.toks[self.i + 1] == ("kw", "in"):
            self.take()
            self.take()
            op = "not in"
        if op is None:
            return lambda get: _truthy(left(get))
        right = self.value()
        return lambda get: _compare(op, left(get), right(get))

    def value(self) -> Callable[[Lookup], Any]:
        kind, text = self.take()
        if kind == "num":
            n: Any = float(text) if "." in text else int(text)
            return lambda get: n
        if kind == "str":
            s = text[1:-1]
            return lambda get: s
        if kind == "kw" and text in ("true", "false"):
            b = text == "true"
            return lambda get: b
        if kind == "name":
            self.names.add(text)
            return lambda get: get(text)
        if (kind, text) == ("op", "["):
            items = [self.value()]
            while self.peek() == ("op", ","):
                self.take()
                items.append(self.value())
            self.take("]")
            return lambda get: [item(get) for item in items]
        raise ConditionError(f"expected a value, not '{text}', in when = \"{self.text}\"")


def compile_condition(text: str) -> Cond:
    """Parse ``text``; the result takes a lookup (name -> value or :data:`MISSING`) and says yes or no."""
    return _Parser(text).parse()


def condition_variables(text: str) -> set[str]:
    """Variables ``text`` reads (``status`` included); raises :class:`ConditionError` when it does not parse."""
    parser = _Parser(text)
    parser.parse()
    return parser.names


def lookup_in(ctx: Mapping[str, Any], status: int) -> Lookup:
    """A lookup over a user's variables (dotted names go into objects) and its last ``status``."""
    def get(name: str) -> Any:
        if name in ctx:
            return ctx[name]
        if name == "status":
            return status
        head, _, rest = name.partition(".")
        node = ctx.get(head, MISSING)
        for part in rest.split(".") if rest else ():
            if isinstance(node, dict):
                node = node.get(part, MISSING)
            elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
                node = node[int(part)]
            else:
                return MISSING
        return node

    return get
