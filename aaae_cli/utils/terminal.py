"""Text from outside (file names, option values, bundle contents) made safe to print on a terminal.

A file name inside a downloaded dataset can hold ANSI/OSC escape sequences (recolour or retitle the terminal,
hide text) or a newline that forges a second ``error:`` line; rich would also read ``[red]`` as markup and
``:b:`` as an emoji code. :func:`shown` writes control characters (C0, DEL, C1, Unicode line separators and
bidirectional overrides) as visible escapes like ``\\x1b`` and ``\\n`` and escapes rich markup; the consoles
are made with ``emoji=False``.
"""

from __future__ import annotations

import re

from rich.markup import escape

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(match: re.Match[str]) -> str:
    if match.group() in _NAMED:
        return _NAMED[match.group()]
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain(text: object) -> str:
    """``text`` with every control character written as a visible escape (no markup escaping)."""
    return _CONTROL.sub(_visible, str(text))


def shown(text: object) -> str:
    """``text`` for a rich console: control characters as visible escapes, markup escaped."""
    return escape(plain(text))
