"""Hypothesis strategies for the fuzz targets: documents built from the pieces real pages,
feeds, feeds files and OPML are made of (tags, attributes, entities, JSON-LD, declarations),
mixed with arbitrary text and bytes, so that a few hundred cases reach past the first parser
error. Profiles: ``faults-ci`` (the default: a few seconds per target) and ``faults-long``
(``NEWS_FUZZ_PROFILE=faults-long``, ``NEWS_FUZZ_EXAMPLES`` cases per target)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

settings.register_profile(
    "faults-ci",
    max_examples=int(os.environ.get("NEWS_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
    print_blob=True,
)
settings.register_profile(
    "faults-long",
    max_examples=int(os.environ.get("NEWS_FUZZ_EXAMPLES", "20000")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
settings.load_profile(os.environ.get("NEWS_FUZZ_PROFILE", "faults-ci"))

# Text that parsers treat specially: entities (named, numeric, broken, surrogates), NUL and
# control characters, quotes, CDATA ends, BOMs, bidi marks, very long words.
TRICKY = st.sampled_from(
    [
        "&amp;",
        "&lt;",
        "&gt;",
        "&quot;",
        "&#0;",
        "&#x0;",
        "&#xD800;",
        "&#55296;",
        "&#x110000;",
        "&#99999999999;",
        "&nbsp;",
        "&bogus;",
        "&",
        "<",
        ">",
        '"',
        "'",
        "]]>",
        "<![CDATA[",
        "\x00",
        "\x0b",
        "\x1b",
        "\r\n",
        "\ufeff",
        "\u202e",
        "\u2028",
        "\ud7ff",
        "\U0001f600",
        "<!--",
        "-->",
        "<?",
        "?>",
        "\\",
        "%",
        "x" * 300,
        " ",
        "\t",
    ]
)
WORDS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
TEXT = st.lists(st.one_of(WORDS, TRICKY), max_size=8).map("".join)
NAMES = st.sampled_from(
    [
        "html",
        "head",
        "body",
        "article",
        "main",
        "div",
        "p",
        "span",
        "a",
        "img",
        "h1",
        "h2",
        "script",
        "style",
        "noscript",
        "template",
        "meta",
        "link",
        "title",
        "time",
        "nav",
        "aside",
        "footer",
        "header",
        "section",
        "figure",
        "figcaption",
        "br",
        "table",
        "tr",
        "td",
        "ul",
        "li",
        "pre",
        "code",
        "blockquote",
        "svg",
        "math",
        "iframe",
        "form",
        "b",
    ]
)
ATTRS = st.sampled_from(
    [
        "class",
        "id",
        "href",
        "src",
        "content",
        "property",
        "name",
        "charset",
        "datetime",
        "itemprop",
        "type",
        "rel",
        "lang",
        "http-equiv",
        "style",
        "hidden",
        "role",
        "alt",
    ]
)
URLS = st.one_of(
    st.sampled_from(
        [
            "http://127.0.0.1/a",
            "https://example.com/x?y=1#z",
            "/relative",
            "../up",
            "//host/p",
            "javascript:alert(1)",
            "data:text/html,x",
            "http://[::1/x",
            "http://[fe80::1%eth0]/",
            "http://user:pw@h:99999/",
            "mailto:a@b",
            "",
            " http://a.b/ c ",
            "http://%zz/",
        ]
    ),
    TEXT,
)
LD_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT, URLS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "@type",
                    "@context",
                    "@graph",
                    "headline",
                    "articleBody",
                    "author",
                    "name",
                    "datePublished",
                    "dateModified",
                    "image",
                    "url",
                    "publisher",
                    "keywords",
                    "inLanguage",
                    "description",
                    "mainEntityOfPage",
                ]
            ),
            inner,
            max_size=5,
        ),
    ),
    max_leaves=12,
)


def _attr(pair: tuple[str, str]) -> str:
    return f' {pair[0]}="{pair[1]}"'


ATTR_TEXT = st.lists(st.tuples(ATTRS, st.one_of(TEXT, URLS)), max_size=3).map(
    lambda pairs: "".join(map(_attr, pairs))
)


@st.composite
def jsonld(draw) -> str:
    import json

    value = draw(LD_VALUES)
    raw = json.dumps(value, ensure_ascii=draw(st.booleans()), allow_nan=True)
    if draw(st.booleans()):  # cut or corrupt it
        raw = raw[: draw(st.integers(0, len(raw)))] + draw(TEXT)
    return f'<script type="application/ld+json">{raw}</script>'


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda name, attrs, inner, close: (
            f"<{name}{attrs}>{inner}" + (f"</{name}>" if close else "")
        ),
        NAMES,
        ATTR_TEXT,
        children,
        st.booleans(),
    )


HTML_PIECES = st.recursive(
    st.one_of(
        TEXT,
        jsonld(),
        st.sampled_from(
            [
                "<!doctype html>",
                '<meta charset="utf-16">',
                '<meta charset="bogus">',
                '<?xml version="1.0" encoding="ebcdic"?>',
                "</p></div>",
                "<p>" + "A full sentence of article text, long enough to count. " * 4 + "</p>",
            ]
        ),
    ),
    lambda inner: _element(st.lists(inner, max_size=4).map("".join)),
    max_leaves=25,
)
ENCODINGS = st.sampled_from(["utf-8", "utf-16", "latin-1", "cp1252", "shift_jis", "utf-8-sig"])


@st.composite
def page_bytes(draw) -> bytes:
    """An HTML page as bytes: pieces, encoded one way (maybe labelled another), maybe spliced
    with raw bytes."""
    text = "".join(draw(st.lists(HTML_PIECES, max_size=8)))
    data = text.encode(draw(ENCODINGS), "replace")
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=64)) + data[cut:]
    return data


FEED_FIELDS = st.sampled_from(
    [
        "title",
        "link",
        "description",
        "guid",
        "pubDate",
        "author",
        "category",
        "id",
        "updated",
        "published",
        "summary",
        "content",
        "dc:creator",
        "content:encoded",
        "media:content",
        "enclosure",
        "ttl",
        "sy:updatePeriod",
        "sy:updateFrequency",
        "comments",
        "source",
    ]
)
DATES = st.one_of(
    st.sampled_from(
        [
            "Tue, 01 Dec 2026 10:00:00 GMT",
            "2026-12-01T10:00:00Z",
            "2026-13-45",
            "Mon, 31 Feb 2026 25:61:61 +9999",
            "0",
            "-1",
            "9999999999999",
            "yesterday",
        ]
    ),
    TEXT,
)


@st.composite
def feed_item(draw, atom: bool) -> str:
    parts = []
    for name in draw(st.lists(FEED_FIELDS, max_size=7)):
        value = draw(st.one_of(TEXT, URLS, DATES, HTML_PIECES.map(lambda h: f"<![CDATA[{h}]]>")))
        attrs = draw(
            st.sampled_from(
                [
                    "",
                    ' type="html"',
                    ' type="text"',
                    ' type="xhtml"',
                    ' href="http://127.0.0.1/e"',
                    ' isPermaLink="true"',
                    ' url="http://127.0.0.1/m.jpg" type="image/jpeg"',
                ]
            )
        )
        parts.append(f"<{name}{attrs}>{value}</{name}>")
    tag = "entry" if atom else "item"
    return f"<{tag}>{''.join(parts)}</{tag}>"


@st.composite
def feed_bytes(draw) -> bytes:
    """An RSS, Atom, RDF or JSON feed, or something that only starts like one."""
    kind = draw(st.sampled_from(["rss", "atom", "rdf", "json", "junk"]))
    if kind == "junk":
        return draw(st.binary(max_size=300))
    if kind == "json":
        import json

        doc = draw(
            st.dictionaries(
                st.sampled_from(
                    ["version", "title", "items", "home_page_url", "language", "feed_url"]
                ),
                LD_VALUES,
                max_size=5,
            )
        )
        if draw(st.booleans()):
            doc["version"] = "https://jsonfeed.org/version/1.1"
        if draw(st.booleans()):
            doc["items"] = draw(
                st.lists(
                    st.dictionaries(
                        st.sampled_from(
                            [
                                "id",
                                "url",
                                "title",
                                "content_html",
                                "content_text",
                                "summary",
                                "date_published",
                                "date_modified",
                                "authors",
                                "tags",
                                "image",
                                "language",
                                "external_url",
                            ]
                        ),
                        LD_VALUES,
                        max_size=6,
                    ),
                    max_size=4,
                )
            )
        return json.dumps(doc, allow_nan=True).encode()
    atom = kind == "atom"
    items = "".join(draw(st.lists(feed_item(atom), max_size=5)))
    head = (
        "".join(draw(st.lists(feed_item(atom), max_size=1)))
        .replace("<entry>", "")
        .replace("</entry>", "")
        .replace("<item>", "")
        .replace("</item>", "")
    )
    decl = draw(
        st.sampled_from(
            [
                '<?xml version="1.0" encoding="utf-8"?>',
                "",
                '<?xml version="1.0" encoding="iso-8859-1"?>',
                '<?xml version="1.0" encoding="nonsense"?>',
                "<!DOCTYPE rss>",
                "\ufeff",
            ]
        )
    )
    if atom:
        doc = f'{decl}<feed xmlns="http://www.w3.org/2005/Atom">{head}{items}</feed>'
    elif kind == "rdf":
        doc = (
            f'{decl}<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            f'xmlns="http://purl.org/rss/1.0/"><channel>{head}</channel>{items}</rdf:RDF>'
        )
    else:
        doc = f'{decl}<rss version="2.0"><channel>{head}{items}</channel></rss>'
    data = doc.encode(draw(ENCODINGS), "replace")
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=32)) + data[cut:]
    return data


TOML_KEYS = st.sampled_from(
    ["name", "url", "id", "min_interval", "max_interval", "tags", "language", "enabled", "bogus"]
)
TOML_VALUES = st.one_of(
    st.sampled_from(
        [
            '"Feed"',
            '"http://127.0.0.1/rss"',
            '"http://[::1/x"',
            '"https://h:99999/"',
            '"ftp://x/"',
            '""',
            '"  "',
            "[1]",
            '["a", 2]',
            "[]",
            "{}",
            "{a = 1}",
            "10",
            "5",
            "-1",
            "1e400",
            "true",
            "false",
            "2026-12-01",
            "nan",
            "inf",
            '"\\ud800"',
            "'''x'''",
            '"http://h/\\u0000"',
            "0x10",
            "99999999999999999999",
        ]
    ),
    TEXT.map(lambda t: _quoted(t)),
)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def feeds_file_text(draw) -> str:
    """A feeds file: [[feeds]] tables, most with a name and a URL (so validation gets past
    them), plus known and unknown keys with good and bad values."""
    tables = []
    for _ in range(draw(st.integers(0, 4))):
        pairs = draw(st.lists(st.tuples(TOML_KEYS, TOML_VALUES), max_size=4))
        if draw(st.integers(0, 9)):
            pairs.insert(0, ("url", draw(st.one_of(URLS.map(_quoted), TOML_VALUES))))
        if draw(st.integers(0, 9)):
            pairs.insert(0, ("name", draw(st.one_of(WORDS.map(_quoted), TOML_VALUES))))
        header = draw(st.sampled_from(["[[feeds]]"] * 6 + ["[feeds]", "[[feed]]", "feeds = 1"]))
        tables.append(header + "\n" + "\n".join(f"{k} = {v}" for k, v in pairs))
    text = "\n\n".join(tables)
    if not draw(st.integers(0, 4)):
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(TEXT) + text[cut:]
    return text


@st.composite
def opml_bytes(draw) -> bytes:
    def outline(depth: int) -> str:
        attrs = "".join(
            f' {k}="{v}"'
            for k, v in draw(
                st.lists(
                    st.tuples(
                        st.sampled_from(["text", "title", "xmlUrl", "htmlUrl", "category", "type"]),
                        st.one_of(URLS, TEXT).map(
                            lambda t: t.replace('"', "&quot;").replace("<", "&lt;")
                        ),
                    ),
                    max_size=4,
                )
            )
        )
        inner = (
            "".join(outline(depth + 1) for _ in range(draw(st.integers(0, 2)))) if depth < 3 else ""
        )
        return (
            f"<outline{attrs}>{inner}</outline>"
            if inner or draw(st.booleans())
            else f"<outline{attrs}/>"
        )

    body = "".join(outline(0) for _ in range(draw(st.integers(0, 4))))
    decl = draw(
        st.sampled_from(
            [
                '<?xml version="1.0" encoding="utf-8"?>',
                "",
                '<!DOCTYPE x [<!ENTITY e "boom">]>',
                '<?xml version="1.0"?>',
            ]
        )
    )
    doc = f'{decl}<opml version="2.0"><head><title>{draw(TEXT)}</title></head><body>{body}</body></opml>'
    data = doc.encode("utf-8")
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=32)) + data[cut:]
    return data
