"""Score the link finder against a labelled corpus of saved pages.

A corpus is a directory of page folders, each with ``source.html`` and ``labels.json``:
``article_media`` (the article's own media), ``decoys`` (media on the page that are not the
article's) and ``ambiguous`` (not scored), each a list of items ``{"urls": [...], "why": ...}``
whose URLs are equivalent forms of one media. A link reported in the article *finds* an item
when its URL or one of its fallbacks is one of the item's forms; it is *false* when it finds no
article item and no ambiguous one. Used by ``tests/test_links.py`` and ``scripts/score_links.py``.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from ..article import load_document, parse_article
from ..errors import ArticleError
from ..links import find_links, media_kind
from ..schema import MediaLink


@dataclass
class PageScore:
    page: str
    split: str
    own: int
    found: int
    false: list[str] = field(default_factory=list)
    decoys: int = 0
    decoys_followed: list[str] = field(default_factory=list)
    missed: list[list[str]] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return self.found == self.own and not self.false


@dataclass
class CorpusScore:
    pages: list[PageScore]

    def _sum(self, name: str) -> int:
        return sum(len(v) if isinstance(v := getattr(p, name), list) else v for p in self.pages)

    @property
    def recall(self) -> float:
        own = self._sum("own")
        return self._sum("found") / own if own else 1.0

    @property
    def precision(self) -> float:
        reported = self._sum("found") + self._sum("false")
        return self._sum("found") / reported if reported else 1.0

    def summary(self) -> str:
        return (f"{len(self.pages)} pages: recall {self.recall:.3f} ({self._sum('found')} of {self._sum('own')}), "
                f"precision {self.precision:.3f} ({self._sum('false')} false links), "
                f"{self._sum('decoys_followed')} of {self._sum('decoys')} decoys followed, "
                f"{sum(p.exact for p in self.pages)} of {len(self.pages)} pages exact")

    def table(self) -> str:
        rows = ["| page | split | own | found | false | decoys | decoys followed | exact |",
                "|---|---|---|---|---|---|---|---|"]
        for p in self.pages:
            rows.append(f"| {p.page} | {p.split} | {p.own} | {p.found} | {len(p.false)} | {p.decoys} | "
                        f"{len(p.decoys_followed)} | {'yes' if p.exact else 'no'} |")
        return "\n".join(rows)


def same_media(a: str, b: str) -> bool:
    """Two URL forms of one media: equal but for scheme, ``www.``, a trailing slash and ``&amp;`` (and, for a
    media file, its query string: tokens and tracking); or the same YouTube video id."""
    return _norm(a) == _norm(b)


def _norm(url: str) -> str:
    url = url.strip().replace("&amp;", "&")
    youtube = re.search(r"(?:youtube(?:-nocookie)?\.com/(?:embed/|v/|watch\?(?:.*&)?v=|shorts/)|youtu\.be/)"
                        r"([\w-]{11})", url)
    if youtube:
        return "youtube:" + youtube.group(1)
    parts = urllib.parse.urlsplit(url if "://" in url else "https://" + url.lstrip("/"))
    host = parts.netloc.lower().removeprefix("www.")
    kind = media_kind(url)
    query = "" if kind and kind[0] == "file" else parts.query
    return f"{host}{parts.path.rstrip('/')}" + (f"?{query}" if query else "")


def _finds(link: MediaLink, item: dict) -> bool:
    forms = [link.url, *link.fallbacks]
    return any(same_media(u, f) for u in item["urls"] for f in forms)


def score_page(folder: Path) -> PageScore:
    labels = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    doc = load_document(str(folder / "source.html"))
    try:
        article = parse_article(doc)
    except ArticleError:
        article = None
    links = [ln for ln in find_links(doc, article) if ln.in_article]
    own, decoys, unsure = labels["article_media"], labels["decoys"], labels.get("ambiguous", [])
    found = [item for item in own if any(_finds(ln, item) for ln in links)]
    false = [ln.url for ln in links if not any(_finds(ln, item) for item in own + unsure)]
    followed = [item["urls"][0] for item in decoys if any(_finds(ln, item) for ln in links)]
    return PageScore(folder.name, labels.get("split", "dev"), len(own), len(found), false, len(decoys), followed,
                     [item["urls"] for item in own if item not in found])


def score_corpus(root: Path, split: str | None = None) -> CorpusScore:
    """Every labelled page under ``root`` (of one ``split`` if given), in name order."""
    folders = [f.parent for f in sorted(root.glob("*/labels.json"))
               if split is None or json.loads(f.read_text(encoding="utf-8")).get("split", "dev") == split]
    return CorpusScore([score_page(folder) for folder in folders])
