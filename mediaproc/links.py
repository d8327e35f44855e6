"""Find the video and audio a document embeds: resolve, de-duplicate and classify every media link.

A link is a media *file* (by path extension, <video>/<audio> markup or schema.org contentUrl), a
*stream* (HLS .m3u8 / DASH .mpd) or a *platform* player page (YouTube, Vimeo, ...) that only
yt-dlp can fetch. Alternatives of one video (a <video>'s <source> children, a VideoObject's
contentUrl and embedUrl, renditions in a player config, the same file under another query string)
are ONE link: the best playable URL first, the rest in ``fallbacks``. Preference order, best first:
progressive MP4/M4V/MOV (h264, one GET, plays everywhere), other video files (WebM, MKV, OGV, ...),
audio files, extension-less files (contentUrl), HLS, DASH, platform pages.

``in_article`` says whether a link belongs to the article rather than to navigation, ads, footers
or a "related videos" rail; evidence is weighed in this order: what the page declares about itself
(JSON-LD, og:video) > where the element sits (ancestors, position relative to the article's
paragraphs) > player configuration in scripts (a playlist of several videos is a rail).
Local media files are reported with ``url`` = their absolute path.
"""

from __future__ import annotations

import bisect
import itertools
import json
import logging
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

from ._urls import (AUDIO_EXTENSIONS, EXTENSION, STREAM_EXTENSIONS, VIDEO_EXTENSIONS, is_media_content_type,
                    media_kind, platform_of)
from .schema import Article, Document, MediaLink

if TYPE_CHECKING:
    from lxml.html import HtmlElement

__all__ = ["find_links", "find_links_in", "format_links", "media_kind", "is_media_content_type", "platform_of"]

log = logging.getLogger(__name__)

# Quoted media URLs inside scripts and attribute JSON (absolute, protocol-relative or root-relative).
# ".ts" is left out here: in scripts it is mostly TypeScript, not MPEG transport streams.
_SCRIPT_MEDIA_URL = re.compile(
    r"""(?i)(?<=["'])((?:https?:)?//[^"'\s<>]+?|/[^"'\s<>/][^"'\s<>]*?)\.(?:%s)(?:\?[^"'\s<>]*)?(?=["'])"""
    % "|".join(e for e in VIDEO_EXTENSIONS + AUDIO_EXTENSIONS + STREAM_EXTENSIONS if e != "ts"))
_TEXT_URL = re.compile(r"""(?i)\b(?:https?://|www\.)[^\s<>"'\]\[]+""")
_MD_LINK_TARGET = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_ENTRY_KEYS = {"title", "name", "headline", "hed", "description", "slug", "id", "guid", "mediaid"}
# Page regions that are not the article. Tags, roles and class/id words in the first set count anywhere,
# even inside the article's container (a "related videos" box in the body is not the story's); page-chrome
# words in the second only outside it (an article has its own <header>, a live blog its "live" box).
_OUTSIDE_TAGS = {"nav", "footer", "aside", "menu"}
_CHROME_TAGS = {"header"}
_OUTSIDE_ROLES = {"navigation", "complementary", "contentinfo", "search", "menu", "menubar"}
_CHROME_ROLES = {"banner"}
# One token of a class or id, compared whole (English, German, French, Spanish, Italian, Portuguese, Dutch).
_OUTSIDE_TOKENS = re.compile(
    r"(?i)^(?:related|recommended?|recommendations?|recommend|playlist|sidebar|rail|nav|navbar|navigation|menu|"
    r"footer|promo|promoted|promotion|sponsor(?:ed)?|ads?|advert|advertisement|adslot|dfp|gpt|outbrain|taboola|"
    r"trending|popular|newsletter|breadcrumbs?|seealso|carousel|banner|comments?|disqus|share|social|"
    r"recirc|recirculation|upnext|weitere|empfehlungen?|ähnliche?|verwandte?|recommandés?|relacionad[oa]s?|"
    r"recomendad[oa]s?|correlati|consigliati|gerelateerd)$")
_CHROME_TOKENS = re.compile(
    r"(?i)^(?:header|masthead|topbar|flyout|live|livestream|breaking|ticker|onair|widget|more|latest|most|side|"
    r"mehr|autres|altri)$")
# Markup that says "this is the article" (its body, header or lead media): what sits inside it is the
# article's unless a region word above says otherwise, even away from the paragraphs the extractor kept.
_ARTICLE_TAGS = {"article", "main"}
_ARTICLE_ROLES = {"main", "article"}
_ARTICLE_CLASS = re.compile(r"(?i)(?:^|[\s_\-])(?:article|story|post|entry)[_\-]*(?:body|content|text|header|main|"
                            r"media|video|lead|hero)|(?:^|[\s_\-])(?:main|primary)[_\-]*content|articleBody")
# A live channel's stream: the article's own footage is not a 24-hour feed.
_LIVE_URL = re.compile(r"(?i)(?:^|[/_.\-])(?:live|livestream|linear|24x7|247|simulcast|channels?)(?:[/_.\-]|$)")
# An iframe that allows full screen and whose path says embed/player/video is a player, whoever hosts it;
# maps, charts, documents and social posts allow full screen too.
_EMBED_PATH = re.compile(r"(?i)/(?:embed|player|iframe|video)s?(?:/|\.|$)")
_NOT_VIDEO = re.compile(r"(?i)maps|twitter\.com|instagram\.com|facebook\.com/plugins/(?:post|page|comment)|"
                        r"datawrapper|flourish|docs\.google|scribd|giphy|typeform|disqus")
_PLAYER_PAGE = re.compile(r"(?i)^(?:https?:)?//(?:player\.vimeo\.com/video/\d|(?:www\.)?youtube(?:-nocookie)?\.com/"
                          r"embed/[\w-]{11}|(?:www\.)?dailymotion\.com/embed/video/|players\.brightcove\.net/)")
# Folders and names of the files a site keeps for its own chrome, not for a story.
_CHROME_URL = re.compile(r"(?i)(?:^|[/_.\-])(?:banners?|promos?|adverts?|ads|preroll|bumpers?|intros?|"
                         r"sponsors?)(?:[/_.\-])")
# A news site's own player page in an iframe (video.site/embed/..., player.site/...): yt-dlp's generic
# extractor reads the media from it.
_SITE_PLAYER = re.compile(r"(?i)^(?:https?:)?//(?:video|videos|player|players|embed|media|tv)\.[^/]+/(?:.*/)?"
                          r"(?:embed|player|iframe)(?:/|\.html|\?|$)")
_SKIP_TEXT_TAGS = {"script", "style", "noscript", "template", "head"}
# Where lazy loaders keep an iframe's or video's real address until it scrolls into view.
_LAZY_SRC = re.compile(r"^data-(?:[\w-]*-)?(?:src|url)$|^data-oembed-url$|^data-iframe$")
_SLACK_BEFORE, _SLACK_AFTER = 1500, 400   # alphanumeric characters around the article body still "in" it


def find_links_in(source: str, *, policy: Any = None) -> list[MediaLink]:
    """Read ``source`` (file or URL) and find its links: the links stage on its own."""
    from .article import load_document, parse_article
    from .errors import ArticleError

    doc = load_document(source, policy=policy)
    try:
        article = parse_article(doc)
    except ArticleError:
        article = None                 # a page without prose may still embed videos
    return find_links(doc, article)


def format_links(links: list[MediaLink], *, explain: bool = False) -> str:
    """One line per link: URL, kind, media type, paragraph, where found; off-article links marked. With
    ``explain``, the decision and its evidence on indented lines below each."""
    lines = []
    for link in links:
        where = f"p{link.paragraph}" if link.paragraph is not None else "-"
        flag = "" if link.in_article or explain else "  [not in article]"
        extra = f"  (+{len(link.fallbacks)} fallback{'s' * (len(link.fallbacks) != 1)})" if link.fallbacks else ""
        lines.append(f"{link.url}\t{link.kind}\t{link.media_type or '-'}\t{where}\t{link.found_in}{extra}{flag}")
        if explain:
            lines.append(f"    {'IN ARTICLE' if link.in_article else 'NOT IN ARTICLE'}")
            lines += [f"    - {why}" for why in link.evidence]
    return "\n".join(lines)


# --------------------------------------------------------------------------- candidates


@dataclass
class _Candidate:
    urls: list[str]           # raw (unresolved) URLs of one media item
    found_in: str
    tier: str                 # "declared" (JSON-LD, og), "dom" (element), "config" (script/JSON), "text"
    media_type: str | None = None
    element: Any = None       # lxml element for position / ancestor checks
    in_article: bool | None = None   # None: decide from the element's position
    paragraph: int | None = None
    order: int = 0
    embeds: list[str] = field(default_factory=list)   # those of ``urls`` that are HTML player pages
    evidence: list[str] = field(default_factory=list)  # why in_article is what it is


_TIER_RANK = {"declared": 0, "text": 0, "dom": 1, "config": 2}


def find_links(doc: Document, article: Article | None = None) -> list[MediaLink]:
    """Every media link in ``doc``, resolved, de-duplicated and classified, in document order."""
    if doc.kind == "media":
        target = doc.url or str(doc.path)
        kind, media_type = media_kind(target) or ("file", None)
        return [MediaLink(target, kind, media_type, "source", None)]
    if doc.kind == "html":
        candidates, base = _html_candidates(doc, article)
    else:
        candidates, base = _text_candidates(doc, article), doc.url or ""
    return _merge(candidates, base)


def _text_candidates(doc: Document, article: Article | None) -> list[_Candidate]:
    """Bare URLs, <autolinks> and Markdown link targets whose path is a media file or stream."""
    found: dict[int, tuple[str, str]] = {}
    for match in _MD_LINK_TARGET.finditer(doc.text):
        found[match.start(1)] = (match.group(1), "markdown link")
    targets = sorted(found)            # a bare URL inside a Markdown link target is that link
    for match in _TEXT_URL.finditer(doc.text):
        url = match.group(0).rstrip(".,;:!?)>'\"*_")
        k = bisect.bisect_right(targets, match.start()) - 1
        if k < 0 or match.start() >= targets[k] + len(found[targets[k]][0]):
            found.setdefault(match.start(), (url, "bare URL"))
    spans = [(p.span, p.index, True) for p in (article.paragraphs if article else []) if p.span]
    # Link texts and captions are set aside from the prose but are the article's; boilerplate is not.
    spans += [(p.span, None, p.kind in ("link", "caption")) for p in (article.boilerplate if article else []) if p.span]
    out = []
    for offset, (url, how) in sorted(found.items()):
        if url.lower().startswith("www."):
            url = "https://" + url
        if not media_kind(url):
            continue
        paragraph, in_article = _nearest_span(offset, spans)
        out.append(_Candidate([url], how, "text", in_article=in_article, paragraph=paragraph, order=offset))
    return out


def _nearest_span(offset: int, spans: list[tuple[tuple[int, int], int | None, bool]]) -> tuple[int | None, bool]:
    """(nearest body paragraph, whether the offset is outside every boilerplate paragraph)."""
    for (start, end), _, body in spans:
        if start <= offset < end and not body:
            return _nearest_body(offset, spans), False
    return _nearest_body(offset, spans), True


def _nearest_body(offset: int, spans: list[tuple[tuple[int, int], int | None, bool]]) -> int | None:
    body = [(span, index) for span, index, is_body in spans if is_body and index is not None]
    before = [index for (start, _), index in body if start <= offset]
    if before:
        return before[-1]
    return body[0][1] if body else None


# --------------------------------------------------------------------------- HTML


def _html_candidates(doc: Document, article: Article | None) -> tuple[list[_Candidate], str]:
    from lxml import etree
    from lxml import html as lxml_html

    try:
        root = lxml_html.document_fromstring(doc.text.encode("utf-8"), parser=lxml_html.HTMLParser(
            encoding="utf-8", remove_comments=True, huge_tree=True))
    except (etree.ParserError, ValueError):
        return [], doc.url or ""
    base = _base_url(root, doc)
    index = _TextIndex(root, article)
    out: list[_Candidate] = []
    for order, el in enumerate(root.iter(etree.Element)):
        for cand in _element_candidates(el):
            cand.order = order
            out.append(cand)
    out += _microdata_candidates(root)
    out += _meta_candidates(root)
    for script in root.iter("script"):
        if (script.get("type") or "").strip().lower() == "application/ld+json":
            out += _jsonld_candidates(script.text or "")
        elif script.text and _SCRIPT_MEDIA_URL.search(_unescape(script.text)):
            mount = _mount(root, script.text)
            where = f"script[{script.get('type') or 'text/javascript'}]"
            for cand in _config_candidates(script.text, where if mount is None else f"{where} -> #{mount.get('id')}"):
                cand.element = script if mount is None else mount
                out.append(cand)
    for cand in out:
        if cand.element is not None:
            _place(cand, index)
        elif cand.in_article is None:
            cand.in_article = True
    return out, base


_MOUNT = re.compile(r"""(?:jwplayer|videojs|flowplayer|bc|Player|getElementById)\(\s*['"]([\w\-:.]+)['"]""")


def _mount(root: HtmlElement, script: str) -> HtmlElement | None:
    """The element a player setup script mounts its player in (``jwplayer('id').setup``, ``videojs('id')``,
    ``new YT.Player('id')``): where the script's media sit in the page. None if it names none."""
    for match in _MOUNT.finditer(script):
        found = root.xpath("//*[@id=$id]", id=match.group(1))
        if found:
            return found[0]
    return None


def _place(cand: _Candidate, index: _TextIndex) -> None:
    """Decide whether an element's media is the article's, from general evidence, recorded in order:
    where the element sits relative to the paragraphs the article extractor found, a page region that is
    not the article (``aside``/``nav``/``header``/``footer``, an ARIA role, a class or id word such as
    related, sidebar, promo, live, in several languages), a live channel, a playlist, and a file the site
    keeps for its own chrome (banners, promos, intros). A script's media (player configuration, page state)
    has no place of its own in the page: only what its URLs say counts."""
    el = cand.element
    cand.paragraph, inside, near = index.place(el)
    cand.order = index.order(el)
    evidence = cand.evidence
    if cand.in_article is False:          # already decided: a playlist entry
        return
    script = el.tag == "script"
    marked = None if script or inside else _article_markup(el)
    region = None if script else _outside_region(el, index.container, inside or marked is not None)
    if script:
        evidence.append("in a script's configuration (its place in the page says nothing)")
    elif inside:
        evidence.append("inside the article body")
    elif marked:
        evidence.append(f"inside markup that says it is the article: {marked}")
    elif near:
        evidence.append("between or next to the article's paragraphs")
    else:
        evidence.append("away from the article's text")
    if region:
        evidence.append(f"in a page region that is not the article: {region}")
    live = next((u for u in cand.urls if _LIVE_URL.search(_host_path(u))), None)
    if live and not inside:
        evidence.append("a live channel's stream (URL), outside the article body")
    playlist = next((u for u in cand.urls if platform_of(u) == "youtube" and _youtube_list(u)), None)
    if playlist:
        evidence.append("a channel or playlist, not one video")
    chrome = next((u for u in cand.urls if _CHROME_URL.search(urllib.parse.urlsplit(u).path)), None)
    if chrome:
        evidence.append("a file of the site's own chrome (banner, promo, intro folder)")
    cand.in_article = (script or inside or marked or near) and not region and not (live and not inside) \
        and not playlist and not chrome


def _host_path(url: str) -> str:
    parts = urllib.parse.urlsplit(url if "//" in url[:8] else "//" + url)
    return parts.netloc + parts.path


def _youtube_list(url: str) -> bool:
    """A YouTube embed of a playlist or a channel's uploads rather than of one video."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    one_video = re.search(r"/(?:embed|v|shorts)/(?!videoseries)[\w-]{11}", parts.path) or "v" in query
    return not one_video and ("list" in query or "videoseries" in parts.path or "listType" in query)


def _base_url(root: HtmlElement, doc: Document) -> str:
    """<base href> (resolved against the page) > page URL > canonical/og:url of a saved page > the file."""
    page = doc.url or next(iter(root.xpath('//link[translate(@rel,"CANONICAL","canonical")="canonical"]/@href'
                                           ' | //meta[@property="og:url"]/@content')), None)
    if page is None and doc.path is not None:
        page = doc.path.as_uri()
    base = next(iter(root.xpath("//base/@href")), None)
    return urllib.parse.urljoin(page or "", base.strip()) if base else (page or "").strip()


def _element_candidates(el: HtmlElement) -> Iterator[_Candidate]:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in ("video", "audio"):
        urls = [el.get("src") or _lazy(el)]
        urls += [s.get("src") or _lazy(s) for s in el.iter("source")]
        urls = [u for u in urls if u]
        if urls:
            yield _Candidate(urls, f"{tag}[src]" if el.get("src") else f"{tag}>source[src]", "dom", tag, el)
    elif tag in ("iframe", "frame", "embed", "object"):
        attr = "data" if tag == "object" else "src"
        srcs = [(attr, el.get(attr))] + [(k, v) for k, v in el.attrib.items() if _LAZY_SRC.match(k)]
        srcs += [(f"param[{p.get('name')}]", p.get("value")) for p in el.iter("param")
                 if (p.get("name") or "").lower() in ("movie", "src", "url", "file", "video")]
        for name, src in srcs:
            src = (src or "").strip()
            if not src or src.lower().startswith(("about:", "javascript:", "data:")):
                continue
            if platform_of(src) or media_kind(src):
                yield _Candidate([src], f"{tag}[{name}]", "dom", None, el)
                break
            if _SITE_PLAYER.match("//" + src.split("://", 1)[-1].lstrip("/")) or (
                    el.get("allowfullscreen") is not None and _EMBED_PATH.search(urllib.parse.urlsplit(src).path)
                    and not _NOT_VIDEO.search(src)):
                yield _Candidate([src], f"{tag}[{name}] site player", "dom", None, el, embeds=[src])
                break
            nested = [v for _, v in urllib.parse.parse_qsl(urllib.parse.urlsplit(src).query) if media_kind(v)]
            if nested:
                key = next(k for k, v in urllib.parse.parse_qsl(urllib.parse.urlsplit(src).query) if v == nested[0])
                yield _Candidate(nested, f"{tag}[{name}] query {key}=", "dom", None, el)
                break
    elif tag == "a" and media_kind(el.get("href") or ""):
        yield _Candidate([el.get("href")], "a[href]", "dom", None, el)
    elif tag == "a" and _PLAYER_PAGE.match((el.get("href") or "").strip()):
        # A link to a platform's *player* (not its watch page): the fallback of an embed a consent
        # banner or a script replaces; prose links to a video go to its watch page.
        yield _Candidate([el.get("href")], "a[href] player link", "dom", None, el)
    elif tag == "input" and media_kind(el.get("value") or ""):
        yield _Candidate([el.get("value")], f"input[name={el.get('name')}][value]", "dom", None, el)
    player = _player_url(el)
    if player:
        yield _Candidate([player[0]], f"{tag}[{player[1]}] player ids", "dom", None, el, embeds=[player[0]])
    if tag in ("video", "audio", "source", "iframe", "frame"):
        return
    for name, value in el.attrib.items():
        if not name.startswith("data-") or not value or _LAZY_SRC.match(name) and tag in ("iframe", "frame"):
            continue
        value = value.strip()
        if media_kind(value) and not value.startswith(("{", "[")):
            yield _Candidate([value], f"{tag}[{name}]", "dom", None, el)
        elif value.startswith(("{", "[")) and _SCRIPT_MEDIA_URL.search(_unescape(value)):
            for cand in _config_candidates(value, f"{tag}[{name}] JSON"):
                cand.element = el
                yield cand


def _lazy(el: HtmlElement) -> str | None:
    return next((v for k, v in el.attrib.items() if _LAZY_SRC.match(k) and v and media_kind(v)), None)


_BOTR = re.compile(r"^(?:\w+_)?botr_([A-Za-z0-9]{8})_([A-Za-z0-9]{8})_div$")


def _player_url(el: HtmlElement) -> tuple[str, str] | None:
    """(canonical player URL, the attributes it was built from) for a player known only by ids in data
    attributes: Brightcove (account, player, video id), JW Player (``botr_<media>_<player>_div`` or
    media/player ids), Kaltura (partner, entry), Vimeo, YouTube, Fox; the URL forms yt-dlp downloads."""
    a = {k.lower(): v.strip() for k, v in el.attrib.items() if isinstance(v, str) and v.strip()}
    video = a.get("data-video-id") or a.get("data-videoid")
    if video and a.get("data-account") and video.isdigit():
        player, embed = a.get("data-player") or "default", a.get("data-embed") or "default"
        return (f"https://players.brightcove.net/{a['data-account']}/{player}_{embed}/index.html?videoId={video}",
                "data-account data-video-id")
    botr = _BOTR.match(a.get("id", ""))
    media, jw_player = (botr.groups() if botr else (a.get("data-media-id") or a.get("data-mediaid"),
                                                     a.get("data-player-id") or a.get("data-playerid")))
    if media and jw_player and re.fullmatch(r"[A-Za-z0-9]{8}", media) and re.fullmatch(r"[A-Za-z0-9]{8}", jw_player):
        return f"https://cdn.jwplayer.com/players/{media}-{jw_player}.html", "id botr_" if botr else "data-media-id"
    entry, partner = a.get("data-entry-id") or a.get("data-entryid"), a.get("data-partner-id") or a.get("data-partnerid")
    if entry and partner and partner.isdigit():
        return (f"https://www.kaltura.com/index.php/extwidget/preview/partner_id/{partner}/entry_id/{entry}",
                "data-partner-id data-entry-id")
    if a.get("data-vimeo-id", "").isdigit():
        return f"https://player.vimeo.com/video/{a['data-vimeo-id']}", "data-vimeo-id"
    youtube = a.get("data-youtube-id") or a.get("data-yt-id") or \
        (video if "youtube" in (a.get("data-provider", "") + a.get("data-type", "") + a.get("data-platform", "")).lower()
         else None)
    if youtube and re.fullmatch(r"[\w-]{11}", youtube):
        return f"https://www.youtube.com/watch?v={youtube}", "youtube id"
    domain = a.get("data-video-domain", "").lower()
    if video and video.isdigit() and domain in ("foxnews", "foxbusiness"):
        return f"https://video.{domain}.com/v/{video}", "data-video-domain data-video-id"
    return None


def _microdata_candidates(root: HtmlElement) -> list[_Candidate]:
    """itemprop=contentUrl/embedUrl (any case) of a schema.org VideoObject/AudioObject/MediaObject item."""
    groups: dict[Any, _Candidate] = {}
    for el in root.xpath("//*[@itemprop]"):
        prop = el.get("itemprop", "").strip().lower()
        if prop not in ("contenturl", "embedurl"):
            continue
        value = next((el.get(a) for a in ("content", "href", "src", "data", "value") if el.get(a)), None) \
            or (el.text or "").strip()
        scope = next((a for a in el.iterancestors() if a.get("itemscope") is not None), None)
        itemtype = (scope.get("itemtype") or "") if scope is not None else ""
        media = re.search(r"(Video|Audio|Media)Object", itemtype)
        if not value or not (media or media_kind(value) or platform_of(value)):
            continue
        media_type = {"Video": "video", "Audio": "audio"}.get(media.group(1)) if media else None
        cand = groups.setdefault(scope if scope is not None else el, _Candidate(
            [], f"microdata {media.group(0) if media else 'item'}", "dom", media_type, el))
        if prop == "contenturl":
            cand.urls.insert(0, value)
            cand.found_in += ".contentUrl"
        else:
            cand.urls.append(value)
            cand.embeds.append(value)
    return list(groups.values())


def _meta_candidates(root: HtmlElement) -> list[_Candidate]:
    """og:video(:url|:secure_url), og:audio, twitter:player:stream (and twitter:player if a platform)."""
    out: dict[str, _Candidate] = {}
    for meta in root.iter("meta"):
        prop = (meta.get("property") or meta.get("name") or "").strip().lower()
        value = (meta.get("content") or "").strip()
        if not value:
            continue
        if prop in ("og:video", "og:video:url", "og:video:secure_url", "og:audio", "og:audio:url",
                    "og:audio:secure_url", "twitter:player:stream", "twitter:player"):
            if prop == "twitter:player" and not platform_of(value):
                continue
            media_type = "audio" if "audio" in prop else "video"
            cand = out.setdefault(media_type, _Candidate([], f"meta[{prop}]", "declared", media_type, in_article=True))
            cand.urls.insert(0, value) if prop.endswith("secure_url") else cand.urls.append(value)
    return list(out.values())


def _jsonld_candidates(text: str) -> list[_Candidate]:
    """VideoObject/AudioObject contentUrl (+ embedUrl as fallback) anywhere in a JSON-LD block."""
    data = _loads_lenient(text)
    if data is None:
        log.warning("skipping a JSON-LD block that is not valid JSON")
        return []
    out = []

    def walk(node: Any, in_list: bool) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, in_list)
        elif isinstance(node, dict):
            types = node.get("@type") or []
            types = [types] if isinstance(types, str) else [t for t in types if isinstance(t, str)]
            media = next((t for t in types if t in ("VideoObject", "AudioObject", "MediaObject")), None)
            if media:
                content = _strings(node.get("contentUrl")) + _strings(node.get("contentURL"))
                embeds = _strings(node.get("embedUrl")) + _strings(node.get("embedURL"))
                if content or embeds:
                    kind = {"VideoObject": "video", "AudioObject": "audio"}.get(media)
                    key = "contentUrl" if content else "embedUrl"
                    out.append(_Candidate(content + embeds, f"json-ld {media}.{key}", "declared", kind,
                                          in_article=not in_list, embeds=embeds,
                                          evidence=["an entry of a JSON-LD item list"] if in_list else []))
            inner = in_list or "ItemList" in types
            for key, value in node.items():
                if key not in ("contentUrl", "contentURL", "embedUrl", "embedURL"):
                    walk(value, inner)

    try:
        walk(data, False)
    except RecursionError:          # nested deeper than any real page's data: nothing to trust in it
        return []
    return out


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        return [v.strip() for v in value if isinstance(v, str) and v.strip()]
    return []


def _loads_lenient(text: str) -> Any:
    """json.loads after stripping CDATA/comment wrappers and tolerating control characters and junk after."""
    try:
        return json.JSONDecoder(strict=False).raw_decode(_strip_wrappers(text))[0]
    except (ValueError, RecursionError):    # RecursionError: nesting deeper than any real configuration
        return None


def _strip_wrappers(text: str) -> str:
    """Script text without the <![CDATA[ ]]> and <!-- --> wrappers old XHTML habits put around it."""
    return re.sub(r"^\s*(?://\s*)?<!\[CDATA\[|(?://\s*)?\]\]>\s*$|^\s*<!--|-->\s*$", "", text.strip()).strip()


# --------------------------------------------------------------------------- player configuration


def _unescape(text: str) -> str:
    return text.replace("\\/", "/").replace("\\u002F", "/").replace("\\u002f", "/").replace("\\u0026", "&")


def _config_candidates(text: str, where: str) -> list[_Candidate]:
    """Media URLs in script or attribute JSON, grouped per video entry; entries of a playlist are off-article."""
    import chompjs

    out: list[_Candidate] = []
    seen: set[str] = set()
    data = _loads_lenient(text)
    try:
        objects = [data] if data is not None else list(chompjs.parse_js_objects(_strip_wrappers(text)))
    except Exception:   # chompjs raises ValueError and assorted errors on non-JS text
        objects = []
    for obj in objects:
        for urls, in_playlist in _entries(obj):
            fresh = [u for u in urls if u not in seen]
            seen.update(urls)
            if fresh:
                label = f"{where} (playlist)" if in_playlist else where
                out.append(_Candidate(fresh, label, "config", in_article=False if in_playlist else None,
                                      evidence=["an entry of a playlist of several videos"] if in_playlist else []))
    leftovers = [m.group(0) for m in _SCRIPT_MEDIA_URL.finditer(_unescape(text)) if m.group(0) not in seen]
    for url in dict.fromkeys(leftovers):
        out.append(_Candidate([url], f"{where} string", "config", in_article=None))
    return out


def _entries(obj: Any) -> list[tuple[list[str], bool]]:
    """(media URLs, in a playlist) per video entry: the nearest enclosing object with a title/id-like key."""
    entries: dict[int, list[str]] = {}
    playlist: set[int] = set()

    def walk(node: Any, entry: int) -> set[int]:
        """Walk ``node``; return the ids of entries that own media URLs at or below it."""
        if isinstance(node, dict):
            if _ENTRY_KEYS & {str(k).lower() for k in node}:
                entry = id(node)
            found: set[int] = set()
            for value in node.values():
                found |= walk(value, entry)
            return found
        if isinstance(node, list):
            per_child = [walk(child, entry) for child in node]
            owners = [ids - {entry} for ids in per_child if ids - {entry}]
            if len(owners) >= 2 and len(owners) * 2 >= len(node):
                for ids in owners:
                    playlist.update(ids)
            return set().union(*per_child) if per_child else set()
        if isinstance(node, str) and media_kind(_unescape(node).strip()) and _SCRIPT_MEDIA_URL.search(f'"{node}"'):
            entries.setdefault(entry, []).append(_unescape(node).strip())
            return {entry}
        return set()

    try:
        walk(obj, id(obj))
    except RecursionError:          # nested deeper than any real player configuration
        return []
    return [(urls, key in playlist) for key, urls in entries.items()]


# --------------------------------------------------------------------------- placement


class _TextIndex:
    """Document-order alphanumeric text of the page, to place elements relative to article paragraphs."""

    def __init__(self, root: HtmlElement, article: Article | None) -> None:
        from lxml import etree

        self._offsets: dict[Any, int] = {}
        ends: dict[Any, int] = {}
        parts: list[str] = []
        size = 0
        skipping: Any = None     # the script/style/head element whose text we are inside
        for event, el in etree.iterwalk(root, events=("start", "end")):
            if event == "start":
                self._offsets[el] = size
                if skipping is not None:
                    continue
                if isinstance(el.tag, str) and el.tag in _SKIP_TEXT_TAGS:
                    skipping = el
                    continue
                text = _alnum(el.text)
            else:
                ends[el] = size
                if el is skipping:
                    skipping = None
                elif skipping is not None:
                    continue
                text = _alnum(el.tail)
            parts.append(text)
            size += len(text)
        self._text = "".join(parts)
        self._paragraphs: list[tuple[int, int, int]] = []   # (start, end, paragraph index)
        pos = 0
        for para in article.paragraphs if article else []:
            key = _alnum(para.text)
            start = self._text.find(key[:60], pos) if key else -1
            if start < 0 and key:
                start = self._text.find(key[:60])
            if start >= 0:
                self._paragraphs.append((start, start + len(key), para.index))
                pos = max(pos, start)
        self._paragraphs = _core(self._paragraphs)
        self.root = self.container = root
        if self._paragraphs:
            first, last = min(p[0] for p in self._paragraphs), max(p[1] for p in self._paragraphs)
            spans = [(ends[el] - start, el) for el, start in self._offsets.items()
                     if start <= first and ends.get(el, -1) >= last]
            self.container = min(spans, key=lambda item: item[0])[1] if spans else root

    def order(self, el: HtmlElement) -> int:
        return self._offsets.get(el, 0)

    def place(self, el: HtmlElement) -> tuple[int | None, bool, bool]:
        """(nearest paragraph index, whether the element is inside the article's container, whether it lies
        near the article's text). Without article paragraphs everything is near: nothing says otherwise."""
        if not self._paragraphs:
            return None, False, True
        if self.container is not self.root and any(a is self.container for a in el.iterancestors()):
            return self._nearest(el), True, True
        return self._nearest(el), False, self._near(el)

    def _nearest(self, el: HtmlElement) -> int:
        offset = self._offsets.get(el, 0)
        starts = sorted(self._paragraphs)
        before = [p for p in starts if p[0] <= offset]
        return before[-1][2] if before else starts[0][2]

    def _near(self, el: HtmlElement) -> bool:
        offset = self._offsets.get(el, 0)
        starts = sorted(self._paragraphs)
        first, last = starts[0][0], max(end for _, end, _ in starts)
        return first - _SLACK_BEFORE <= offset <= last + _SLACK_AFTER


_CORE_GAP = 800     # alphanumeric characters between two paragraphs that part the article from a stray one


def _core(paragraphs: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """The paragraphs of the article itself: the run with the most text, where runs are parted by more than
    ``_CORE_GAP`` characters of other text. An extractor sometimes keeps a sidebar's paragraph far below the
    story; the article's container and its neighbourhood are taken from the core, not from that."""
    runs: list[list[tuple[int, int, int]]] = []
    for p in sorted(paragraphs):
        if runs and p[0] - max(e for _, e, _ in runs[-1]) <= _CORE_GAP:
            runs[-1].append(p)
        else:
            runs.append([p])
    return max(runs, key=lambda run: sum(e - s for s, e, _ in run), default=[])


def _alnum(text: str | None) -> str:
    return re.sub(r"\W+|_", "", text).lower() if text else ""


def _article_markup(el: HtmlElement) -> str | None:
    """The nearest ancestor that declares itself the article (``<article>``, ``<main>``, ``role=main``,
    ``itemprop=articleBody``, a class such as ``article-body`` or ``story-header``), or None."""
    for node in el.iterancestors():
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in ("html", "body"):          # page-wide: their classes describe the page, not a region
            break
        if tag in _ARTICLE_TAGS:
            return f"<{tag}>"
        if (node.get("role") or "").strip().lower() in _ARTICLE_ROLES:
            return f"role={node.get('role').strip().lower()}"
        if (node.get("itemprop") or "").strip().lower() == "articlebody":
            return "itemprop=articleBody"
        for attr in ("class", "id"):
            if _ARTICLE_CLASS.search(node.get(attr) or ""):
                return f'{attr} "{node.get(attr).strip()[:40]}" on <{tag}>'
    return None


def _outside_region(el: HtmlElement, container: HtmlElement, inside: bool) -> str | None:
    """The page region that is not the article holding ``el`` (``<aside>``, ``role=complementary``,
    ``class "related"``...), looked for below the point where ``el``'s ancestry meets the article container
    (page-wide wrappers say nothing), or None. Page-chrome words count only when ``el`` is not ``inside``."""
    shared = {id(container), *(id(a) for a in container.iterancestors())}
    below = list(itertools.takewhile(lambda n: id(n) not in shared, [el, *el.iterancestors()]))
    if any("consent" in (n.get("class") or "").lower() for n in below):
        return None      # a consent wall stands where the article's embed will be: its words are no region
    tags, roles = (_OUTSIDE_TAGS, _OUTSIDE_ROLES) if inside else (_OUTSIDE_TAGS | _CHROME_TAGS,
                                                                 _OUTSIDE_ROLES | _CHROME_ROLES)
    for node in [el, *el.iterancestors()]:
        if id(node) in shared:
            return None
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in tags:
            return f"<{tag}>"
        role = (node.get("role") or "").strip().lower()
        if role in roles:
            return f"role={role}"
        for attr in ("class", "id"):
            tokens = [t for t in re.split(r"[\s_\-]+|(?<=[a-z])(?=[A-Z])", node.get(attr) or "") if t]
            word = next((t for t in tokens if _OUTSIDE_TOKENS.match(t) or not inside and _CHROME_TOKENS.match(t)),
                        None)
            if word:
                return f'{attr} "{word}" on <{tag}>'
    return None


# --------------------------------------------------------------------------- merge


def _merge(candidates: list[_Candidate], base: str) -> list[MediaLink]:
    """Resolve URLs, group candidates that share a media URL, and pick each group's best URL."""
    groups: list[dict[str, Any]] = []
    by_key: dict[tuple[str, ...], dict[str, Any]] = {}
    for cand in sorted(candidates, key=lambda c: (_TIER_RANK[c.tier], c.order)):
        urls = [u for u in (_resolve(raw, base) for raw in cand.urls) if u]
        urls = [u for u in dict.fromkeys(urls) if media_kind(u) or platform_of(u) or cand.tier in ("declared", "dom")]
        if not urls:
            continue
        keys = [_key(u) for u in urls]
        hits = [by_key[k] for k in keys if k in by_key]
        group = hits[0] if hits else {"urls": [], "cands": [], "embeds": set()}
        if not hits:
            groups.append(group)
        for other in hits[1:]:
            if other is not group:
                group["urls"] += other["urls"]
                group["cands"] += other["cands"]
                group["embeds"] |= other["embeds"]
                groups.remove(other)
                for k, g in list(by_key.items()):
                    if g is other:
                        by_key[k] = group
        group["urls"] += urls
        group["cands"].append(cand)
        group["embeds"].update(_resolve(raw, base) for raw in cand.embeds)
        for k in keys:
            by_key[k] = group
    links = []
    for group in groups:
        cands: list[_Candidate] = group["cands"]
        embeds = group["embeds"]
        unique = {}   # one of http/https variants of a URL, https preferred
        for url in sorted(group["urls"], key=lambda u: not u.startswith("https:")):
            unique.setdefault(url.split("://", 1)[-1], url)
        urls = sorted(dict.fromkeys(u for u in group["urls"] if u in unique.values()),
                      key=lambda u: 6 if u in embeds else _preference(u))
        best_tier = min(_TIER_RANK[c.tier] for c in cands)
        decisive = [c for c in cands if _TIER_RANK[c.tier] == best_tier and c.in_article is not None]
        in_article = any(c.in_article for c in decisive) if decisive else any(c.in_article for c in cands)
        evidence = list(dict.fromkeys(f"{c.found_in}: {e}" for c in (decisive or cands) for e in c.evidence or
                                      ["declared by the page" if c.tier == "declared" else "in the article text"
                                       if c.in_article else "outside the article text"]))
        first = min(cands, key=lambda c: (_TIER_RANK[c.tier], c.order))
        kind, media_type = media_kind(urls[0]) or \
            (("platform", None) if platform_of(urls[0]) or urls[0] in embeds else ("file", None))
        media_type = next((c.media_type for c in cands if c.media_type), media_type)   # <audio>, AudioObject...
        paragraph = next((c.paragraph for c in sorted(cands, key=lambda c: c.order) if c.paragraph is not None), None)
        links.append((first.order, MediaLink(urls[0], kind, media_type, first.found_in, paragraph, in_article, urls[1:],
                                             evidence)))
    links.sort(key=lambda item: (not item[1].in_article, item[0]))
    return [link for _, link in links]


def _resolve(raw: str, base: str) -> str | None:
    raw = _unescape(raw.strip()).replace("&amp;", "&")
    if not raw or raw.lower().startswith(("javascript:", "data:", "about:", "blob:", "mailto:")):
        return None
    url = urllib.parse.urljoin(base, raw) if base else raw
    if url.startswith("//"):
        url = "https:" + url
    return url if re.match(r"(?i)(https?|file)://", url) else None


def _key(url: str) -> tuple[str, ...]:
    """Identity of the media behind a URL: host+path for media files (query strings are tokens or format
    switches), the video id for YouTube (youtube.com and youtube-nocookie.com embed the same video)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.lower().removeprefix("www.")
    if platform_of(url) == "youtube":
        vid = re.search(r"(?:embed/|v/|shorts/|live/|youtu\.be/)([\w-]{6,})", host + parts.path) or \
            re.search(r"(?:^|&)v=([\w-]{6,})", parts.query)
        if vid:
            return ("youtube", vid.group(1))
    if media_kind(url):
        return (host, parts.path)
    return (host, parts.path, parts.query)


def _preference(url: str) -> int:
    kind = media_kind(url)
    ext = (EXTENSION.search(urllib.parse.urlsplit(url).path) or [None, ""])[1].lower()
    if kind and kind[0] == "file":
        return 0 if ext in ("mp4", "m4v", "mov") else 1 if kind[1] == "video" else 2
    if kind:
        return 4 if ext == "m3u8" else 5
    return 6 if platform_of(url) else 3
