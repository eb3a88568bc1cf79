"""What a LAS 2.0 header field may hold, so that every header logdigit writes reads back intact.

A LAS 2.0 header line is ``MNEM.UNIT  VALUE : DESCRIPTION`` (CWLS LAS 2.0, Part 3):
the mnemonic ends at the first period, the unit follows it directly and ends at the
first space, the value runs to the colon and the description follows it. Readers
(lasio among them) take the *last* colon on the line as that delimiter, and a line whose
first character is ``~`` or ``#`` starts a section or is a comment. The file is
printable ASCII (codes 32-126). From this, each field may hold:

========  =====================================================================
mnemonic  printable ASCII without spaces, periods or colons; not empty; not
          starting with ``~``, ``#`` or a quotation mark
unit      printable ASCII without spaces or colons; no period at either end and
          no two in a row (readers drop a trailing period; ``..`` is read as a
          period inside the mnemonic)
value     printable ASCII, colons included (they sit left of the last colon);
          no spaces at either end (readers strip them)
descr     printable ASCII without colons (the last colon starts it); no spaces
          at either end
========  =====================================================================

:func:`field_problem` checks one field against these rules; the layout loader turns its
answer into a :class:`~logdigit.errors.LayoutError` naming the file and the key, and
:func:`logdigit.io.las.to_las` into a ``ValueError``.
"""

from __future__ import annotations

FIELDS: tuple[str, ...] = ("mnemonic", "unit", "value", "descr")
"""The header fields :func:`field_problem` knows."""

_ASCII_FIX = {
    "mnemonic": "use ASCII letters, digits, _ or -",
    "unit": 'use ASCII letters, digits and "/", e.g. "GAPI" or "G/C3"',
    "value": "LAS 2.0 text is printable ASCII (codes 32-126): spell it with ASCII characters",
    "descr": "LAS 2.0 text is printable ASCII (codes 32-126): spell it with ASCII characters",
}


def field_problem(kind: str, text: str) -> tuple[str, str] | None:
    """Why ``text`` cannot be written as a LAS 2.0 header ``kind``, or None when it can.

    Args:
        kind: one of :data:`FIELDS`: ``"mnemonic"``, ``"unit"``, ``"value"`` or ``"descr"``.
        text: the field as it would be written.

    Returns:
        None for a field that reads back unchanged, else ``(what is wrong, how to fix it)``,
        each a phrase for a one-line message that also names the file and the key.

    Raises:
        ValueError: an unknown ``kind``.

    Example:
        >>> field_problem("mnemonic", "GR") is None
        True
        >>> field_problem("mnemonic", "#GR")[0]
        '"#GR" is not a LAS mnemonic: it starts with "#", which LAS reads as a comment line'
        >>> field_problem("descr", "Gamma: API")[1]
        'LAS reads the text after a colon as the description: write it without ":", e.g. with "-"'
    """
    if kind not in FIELDS:
        raise ValueError(f"kind must be one of {FIELDS}, got {kind!r}")
    if not isinstance(text, str):
        return f"must be text, got {type(text).__name__}", _ASCII_FIX[kind]
    shown = _show(text)
    for i, ch in enumerate(text):
        if not 32 <= ord(ch) <= 126:
            seen = f'"{ch}"' if ch.isprintable() else ascii(ch)
            what = f"{shown} holds {seen} (character {i + 1}), which is not printable ASCII"
            return what, _ASCII_FIX[kind]
    return _RULES[kind](text, shown)


def _mnemonic(text: str, shown: str) -> tuple[str, str] | None:
    fix = _ASCII_FIX["mnemonic"]
    if not text:
        return "is empty", 'give it a name, e.g. "GR"'
    bad = next((ch for ch in " .:" if ch in text), None)
    if bad is not None:
        what = f"{shown} is not a LAS mnemonic: it holds {_name(bad)}, where LAS splits a header line"
        return what, f'{fix}, e.g. "GR_1"'
    if text[0] in "~#\"'":
        reads = {"~": "a section start", "#": "a comment line"}.get(text[0], "a quoted line")
        return f'{shown} is not a LAS mnemonic: it starts with "{text[0]}", which LAS reads as {reads}', fix
    return None


def _unit(text: str, shown: str) -> tuple[str, str] | None:
    fix = _ASCII_FIX["unit"]
    if " " in text:
        return f"a LAS unit is one word, got {shown}", fix
    if ":" in text:
        return f"a LAS unit holds no colon (LAS splits header lines there), got {shown}", fix
    if text.startswith(".") or text.endswith(".") or ".." in text:
        return f"a LAS unit has no period at either end and no two in a row (readers misread them), got {shown}", fix
    return None


def _value(text: str, shown: str) -> tuple[str, str] | None:
    if text != text.strip():
        return f"{shown} has spaces at an end, which LAS readers drop", "remove them"
    return None


def _descr(text: str, shown: str) -> tuple[str, str] | None:
    if ":" in text:
        return (
            f"{shown} holds a colon",
            'LAS reads the text after a colon as the description: write it without ":", e.g. with "-"',
        )
    return _value(text, shown)


_RULES = {"mnemonic": _mnemonic, "unit": _unit, "value": _value, "descr": _descr}


def _name(ch: str) -> str:
    return {" ": "a space", ".": "a period", ":": "a colon"}[ch]


def _show(text: str) -> str:
    short = text if len(text) <= 40 else text[:37] + "..."
    return '"' + "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in short) + '"'
