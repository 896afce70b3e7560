"""Text shown to a person: characters that would steer the terminal are made visible.

Documents, file names and questions are untrusted: an ESC in a document (`\\x1b[2J` clears the
screen, OSC 52 sets the clipboard, OSC 0 the window title), a C1 control or a bidi override must
never reach a terminal as such. Every human display (`qa ask`/`qa chat` output, summaries, error
messages, Markdown reports, the TUI) passes its text through `printable`; `--json` and JSONL need
nothing, JSON escaping already shows them. Stored quotes are never altered: this is display only.
"""
from __future__ import annotations

import re

# C0 controls, DEL, C1 controls, and the bidi embeddings/overrides/isolates (Trojan-source marks).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escaped(c: str) -> str:
    if c in _NAMED:
        return _NAMED[c]
    o = ord(c)
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def printable(text: object, keep: str = "") -> str:
    """`text` with each control character written out as `\\n`, `\\x1b`, `\\x9b`, `\\u202e`…, except the
    characters in `keep` (say "\\n" where the layout has room for a line break)."""
    return _CONTROL.sub(lambda m: m.group() if m.group() in keep else _escaped(m.group()), str(text))


def printable_same_length(text: str, keep: str = "\n") -> str:
    """Like `printable`, one visible character for each control character, so offsets into the text
    stay valid (the document viewer highlights cited spans by offset): a C0 control becomes its
    Control Pictures sign (ESC → ␛), DEL ␡, any other U+FFFD."""

    def sign(c: str) -> str:
        o = ord(c)
        if o < 0x20:
            return chr(0x2400 + o)
        return "\u2421" if o == 0x7F else "\ufffd"

    return _CONTROL.sub(lambda m: m.group() if m.group() in keep else sign(m.group()), text)
