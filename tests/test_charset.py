"""Bytes to text: BOM, header charset, <meta charset>, detection; no mojibake."""

from __future__ import annotations

import codecs

from tasks.charset import decode_html

TEXT = "<html><head>{meta}</head><body><p>Çà et là, “les élèves” – déjà.</p></body></html>"


def test_header_charset_is_used():
    body = TEXT.format(meta="").encode("cp1252")
    assert "“les élèves” – déjà" in decode_html(body, "windows-1252")


def test_latin1_label_reads_as_windows_1252():
    body = TEXT.format(meta="").encode("cp1252")
    assert "“les élèves”" in decode_html(body, "ISO-8859-1")


def test_meta_charset_when_no_header():
    body = TEXT.format(meta='<meta charset="windows-1252">').encode("cp1252")
    assert "“les élèves”" in decode_html(body)


def test_bom_wins():
    body = codecs.BOM_UTF8 + TEXT.format(meta="").encode("utf-8")
    text = decode_html(body, "iso-8859-1")
    assert "“les élèves”" in text and not text.startswith("\ufeff")


def test_utf8_labelled_latin1_is_not_mojibake():
    body = TEXT.format(meta="").encode("utf-8")
    assert "“les élèves”" in decode_html(body, "iso-8859-1")


def test_detection_without_any_label():
    text = (
        "<html><body><p>"
        + "Съешь же ещё этих мягких французских булок, да выпей чаю. " * 20
        + "</p></body></html>"
    )
    assert "французских булок" in decode_html(text.encode("cp1251"))


def test_wrong_label_and_garbage_never_raise():
    assert isinstance(decode_html(b"\xff\xfe\x00\xd8garbage", "no-such-charset"), str)
    assert decode_html(b"") == ""
    assert isinstance(decode_html(bytes(range(256)) * 10, "utf-8"), str)


def test_binary_data_is_told_from_text():
    from tasks.charset import decode_html, looks_binary

    assert looks_binary(decode_html(bytes(range(256)) * 64))
    assert looks_binary(decode_html(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8))
    assert not looks_binary("<p>caf\xe9 \u2014 \u65e5\u672c\u8a9e</p>\n\t" * 100)
    assert not looks_binary("")
