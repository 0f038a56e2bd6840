"""Strings that came from a file (a project's app version or labels, a LoRA's metadata, a model's
config) made safe to show: on one line, with no terminal control sequences and nothing a
terminal or a UTF-8 encoder refuses.

Control characters (newlines, ESC of ANSI sequences, C1 codes, DEL), Unicode line/paragraph
separators and bidirectional overrides are shown as `\\xNN`/`\\uNNNN` escapes; lone surrogates
(from a non-UTF-8 file name or a `\\ud800` JSON escape) become U+FFFD.
"""

from __future__ import annotations

import unicodedata

# Reorder text as displayed (Trojan-source style): never pass them through.
_BIDI = {"\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)),
         *map(chr, range(0x2066, 0x206A))}


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(value: object, limit: int | None = 200) -> str:
    """`value` as one safe line of at most `limit` characters (+ "…" when cut)."""
    try:
        text = value if isinstance(value, str) else str(value)
    except ValueError:  # an integer too long for str() (over 4300 digits)
        text = f"<a number of about {int(value.bit_length() * 0.30103)} digits>" \
            if isinstance(value, int) else f"<{type(value).__name__}>"
    out = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cs":
            out.append("\ufffd")
        elif category in ("Cc", "Zl", "Zp") or char in _BIDI:
            out.append(_escape(char))
        else:
            out.append(char)
    line = "".join(out)
    if limit is not None and len(line) > limit:
        line = line[:limit] + "…"
    return line
