"""Bytes to text for HTML pages: which character encoding a page is in, and decoding it.

Owned here: the order of evidence (byte-order mark, the HTTP header charset, a
``<meta charset>`` in the first bytes, then statistical detection) and the guards against
mojibake; and the one rule for invalid code points where text enters: a lone surrogate
(from a ``\\ud800`` JSON escape, a UTF-7 page, ``&#xD800;``) becomes U+FFFD, since no
UTF-8 encoder (Celery's JSON, the store, stdout) accepts it. Pure functions; no HTTP, no
parsing beyond the charset prescan of the HTML standard.
"""

from __future__ import annotations

import codecs
import logging
import re

log = logging.getLogger(__name__)

PRESCAN_BYTES = 4096  # the HTML standard's prescan window for <meta charset>
DETECT_BYTES = 200_000  # bytes given to charset-normalizer (enough, and bounded in time)

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:\-]+)""", re.IGNORECASE
)
# Labels that browsers read as windows-1252 (WHATWG Encoding): a page labelled latin-1 uses
# the C1 range for curly quotes and dashes.
_WESTERN = {
    "iso-8859-1",
    "latin-1",
    "latin1",
    "ascii",
    "us-ascii",
    "iso8859-1",
    "cp1252",
    "windows-1252",
    "l1",
}


def without_surrogates(text: str) -> str:
    """text with lone surrogates replaced by U+FFFD (a high-low pair left split in a str is
    joined into its character). The common case, none, is one strict UTF-8 encode (4 times
    faster than a regex search of the page; only a surrogate makes it fail)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # JSON's \ud800..\udfff


def json_without_surrogates(text: str, value: object) -> object:
    """``value`` (json.loads of ``text``) with lone surrogates replaced, walked only when
    the text has a surrogate escape at all: the common case costs one regex search."""
    return without_surrogates_in(value) if _SURROGATE_ESCAPE.search(text) else value


def without_surrogates_in(value: object) -> object:
    """A parsed JSON value with every string (keys too) passed through without_surrogates;
    dicts and lists are changed in place, walked without recursion (any nesting depth)."""
    if isinstance(value, str):
        return without_surrogates(value)
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, item in list(node.items()):
                clean_key = without_surrogates(key) if isinstance(key, str) else key
                if clean_key != key:
                    del node[key]
                node[clean_key] = without_surrogates(item) if isinstance(item, str) else item
                if isinstance(item, dict | list):
                    stack.append(item)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                if isinstance(item, str):
                    node[i] = without_surrogates(item)
                elif isinstance(item, dict | list):
                    stack.append(item)
    return value


def normalize_label(label: str | None) -> str | None:
    """A Python codec name for an encoding label, or None when the label is unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _WESTERN:
        return "cp1252"
    if label in ("utf8", "unicode-1-1-utf-8", "x-unicode20utf8"):
        return "utf-8"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def sniff_bom(body: bytes) -> str | None:
    """The encoding a byte-order mark announces, if the body starts with one."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    return None


def sniff_meta(body: bytes) -> str | None:
    """The encoding declared by a <meta charset> / http-equiv in the first bytes."""
    match = _META_CHARSET.search(body[:PRESCAN_BYTES])
    if not match:
        return None
    name = normalize_label(match.group(1).decode("ascii", "ignore"))
    # A page can't really be UTF-16 if its ASCII prescan found the tag (HTML standard).
    return "utf-8" if name and name.startswith("utf-16") else name


def detect(body: bytes) -> str | None:
    """The encoding charset-normalizer finds most likely, or None."""
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(body[:DETECT_BYTES]).best()
    except Exception:  # noqa: BLE001 - detection is a best effort, never fatal
        return None
    return normalize_label(best.encoding) if best else None


def strict_decode(body: bytes, encoding: str) -> str | None:
    """body decoded with encoding, or None when it does not decode (or the codec is unknown)."""
    try:
        return body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _declared(body: bytes, header_encoding: str | None) -> str | None:
    """The encoding the page declares: header, then <meta>; UTF-8 wins over a Western label
    when the bytes are valid UTF-8 with non-ASCII (the usual cause of mojibake)."""
    declared = normalize_label(header_encoding) or sniff_meta(body)
    if declared == "cp1252" and not body.isascii() and strict_decode(body, "utf-8") is not None:
        return "utf-8"
    return declared


def decode_html(body: bytes, header_encoding: str | None = None) -> str:
    """Decode an HTML page: BOM, HTTP header charset, <meta charset>, then detection.

    A byte-order mark wins over the header, as in browsers (WHATWG "decode"). A declared
    encoding the bytes do not fit falls through to detection; the last resort is UTF-8 with
    replacement characters, so this never raises.
    """
    if not body:
        return ""
    return without_surrogates(_decode(body, header_encoding))


def _decode(body: bytes, header_encoding: str | None) -> str:
    bom = sniff_bom(body)
    if bom:
        return body.decode(bom, errors="replace").lstrip("\ufeff")
    declared = _declared(body, header_encoding)
    if declared:
        text = strict_decode(body, declared)
        if text is not None:
            return text
        log.debug("declared charset %s does not fit the bytes", declared)
    text = strict_decode(body, "utf-8")
    if text is not None:
        return text
    guessed = detect(body) or declared or "utf-8"
    return body.decode(guessed, errors="replace")


BINARY_SAMPLE = 16_384  # characters looked at to tell text from binary
BINARY_SHARE = 0.05  # more control or replacement characters than this: not a text page
# control characters other than tab / newlines / form feed, and U+FFFD (undecodable bytes)
_ODD = tuple(map(chr, [*range(0, 9), 11, *range(14, 32), 0xFFFD]))


def looks_binary(text: str) -> bool:
    """Whether decoded "HTML" is really binary data (an image or archive served as text/html)."""
    sample = text[:BINARY_SAMPLE]
    odd = sum(map(sample.count, _ODD))  # str.count runs in C: no per-character Python loop
    return odd > BINARY_SHARE * len(sample)
