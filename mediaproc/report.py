"""Write ``report.html``: one self-contained page per article that a person can read offline.

The page shows the article with the sentences the video speaks highlighted and a
timestamp chip that seeks the player, an alignment map (video time across,
article order down), what the video says that the article does not, keyframes,
and every failure with its reason. It reads the same data that the JSON files hold.
"""

from __future__ import annotations

import base64
import html
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .utils import atomic_write_text, clock, read_json, to_jsonable

if TYPE_CHECKING:
    from .article import Article
    from .pipeline import Manifest

_STATUS_COLOUR = {"spoken": "#2e9e2e", "paraphrased": "#d08a00"}


def _asset(name: str) -> str:
    return resources.files("mediaproc").joinpath("templates", name).read_text(encoding="utf-8")


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _clock(seconds: float | None) -> str:
    return "?" if seconds is None else clock(seconds)


def _img_src(out_dir: Path, rel: str, embed: bool) -> str:
    if not embed:
        return _esc(rel)
    data = base64.b64encode((out_dir / rel).read_bytes()).decode("ascii")
    return f"data:image/jpeg;base64,{data}"


def _keyframes(out_dir: Path, item_id: str) -> list[dict[str, Any]]:
    path = out_dir / "media" / item_id / "keyframes.json"
    if not path.exists():
        return []
    frames = read_json(path)["frames"]
    return [dict(f, path=f"media/{item_id}/{f['path']}") for f in frames]


def _nearest_frame(frames: list[dict[str, Any]], t: float) -> dict[str, Any] | None:
    before = [f for f in frames if f["time"] <= t + 0.25]
    return before[-1] if before else (frames[0] if frames else None)


def _alignment_map(item_id: str, sentences: list[dict[str, Any]], n_sentences: int, duration: float) -> str:
    """Video time across, article sentence order down: reordering and gaps show at a glance."""
    width, height, pad = 360, max(80, min(360, 8 * n_sentences + 30)), 24
    marks = []
    for s in sentences:
        if s.get("start") is None or s["status"] not in _STATUS_COLOUR:
            continue
        x = pad + (width - 2 * pad) * min(s["start"] / duration, 1.0)
        y = 10 + (height - 30) * (s["order"] / max(n_sentences - 1, 1))
        marks.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{_STATUS_COLOUR[s["status"]]}" '
                     f'data-media="{_esc(item_id)}" data-seek="{s["start"]:.2f}">'
                     f'<title>{_clock(s["start"])} {_esc(s["text"][:80])}</title></circle>')
    return (f'<svg class="map" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-label="alignment map">'
            f'<rect x="{pad}" y="6" width="{width - 2 * pad}" height="{height - 22}" fill="none" stroke="#ccc"/>'
            f'<text x="{pad}" y="{height - 4}">0:00</text>'
            f'<text x="{width - pad}" y="{height - 4}" text-anchor="end">{_clock(duration)}</text>'
            f'<text x="2" y="14">1st</text><text x="2" y="{height - 18}">last</text>'
            + "".join(marks) + "</svg>")


def render_report(out_dir: Path, article: Article | None, manifest: Manifest,
                  alignments: dict[str, Any], *, embed_images: bool = False) -> str:
    """The report as one HTML string (CSS and JS inline; keyframes linked or embedded)."""
    out_dir = Path(out_dir)
    m = to_jsonable(manifest)
    aligned = {k: to_jsonable(v) for k, v in alignments.items()}
    items = m["items"]
    frames = {it["id"]: _keyframes(out_dir, it["id"]) for it in items}
    order = {}
    if article is not None:
        order = {(s.paragraph, s.index): i for i, s in enumerate(article.sentences())}

    # Per sentence: the best alignment across media items (spoken beats paraphrased).
    best: dict[tuple[int, int], tuple[str, dict[str, Any]]] = {}
    for item_id, al in aligned.items():
        for s in al.get("sentences", []):
            if s.get("status") not in _STATUS_COLOUR:
                continue
            key = (s["paragraph"], s["index"])
            if key not in best or (s["status"] == "spoken" and best[key][1]["status"] != "spoken"):
                best[key] = (item_id, s)

    title = (article.title if article else "") or m.get("title") or m["source"]
    parts = [f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><link rel=\"icon\" href=\"data:,\">"
             f"<title>{_esc(title)} — mediaproc report</title><style>{_asset('report.css')}</style></head><body>"]
    meta = article.metadata if article else {}
    src = m["source"]
    src_html = f'<a href="{_esc(src)}">{_esc(src)}</a>' if src.startswith(("http://", "https://")) else _esc(src)
    parts.append(f"<header><h1>{_esc(title)}</h1><div class=\"meta\">Source: {src_html}"
                 + (f" · {_esc(meta['author'])}" if meta.get("author") else "")
                 + (f" · {_esc(meta['date'])}" if meta.get("date") else "")
                 + f" · status <b>{_esc(m['status'])}</b> · generated {_esc(m['finished'])}</div></header><main>")

    # Left column: the article.
    parts.append("<div><section><h2>Article</h2><div class=\"legend\"><span class=\"s-spoken\">spoken</span>"
                 "<span class=\"s-paraphrased\">paraphrased</span><span>not in the video</span></div>")
    if article is None or not article.paragraphs:
        parts.append("<p class=\"empty\">No article text (a direct media link, or the article could not be read).</p>")
    else:
        for p in article.paragraphs:
            spans, first = [], None
            for s in p.sentences:
                hit = best.get((s.paragraph, s.index))
                if hit is None:
                    spans.append(f'<span class="s" data-p="{s.paragraph}" data-s="{s.index}">{_esc(s.text)}</span>')
                    continue
                item_id, a = hit
                first = first or (item_id, a["start"])
                spans.append(f'<span class="s s-{a["status"]}" data-p="{s.paragraph}" data-s="{s.index}" '
                             f'data-status="{a["status"]}">{_esc(s.text)}</span>'
                             f'<button class="chip {a["status"]}" data-media="{_esc(item_id)}" '
                             f'data-seek="{a["start"]:.2f}" title="score {a.get("score", 0):.2f}">'
                             f'{_clock(a["start"])}</button>')
            thumb = ""
            if first is not None:
                frame = _nearest_frame(frames.get(first[0], []), first[1])
                if frame is not None:
                    thumb = (f'<img class="thumb" loading="lazy" alt="keyframe at {_clock(frame["time"])}" '
                             f'src="{_img_src(out_dir, frame["path"], embed_images)}" '
                             f'data-media="{_esc(first[0])}" data-seek="{first[1]:.2f}">')
            parts.append(f'<div class="para"><p>{" ".join(spans)}</p>{thumb}</div>')
        if article.boilerplate:
            parts.append("<details class=\"boiler\"><summary>Set aside as boilerplate "
                         f"({len(article.boilerplate)} paragraphs)</summary>"
                         + "".join(f"<p>{_esc(p.text)}</p>" for p in article.boilerplate) + "</details>")
    parts.append("</section>")
    failures = [it for it in items if it["status"] != "ok"]
    if m.get("error") or failures:
        parts.append("<section class=\"failures\"><h2>Problems</h2><ul>"
                     + (f"<li>article: {_esc(m['error'])}</li>" if m.get("error") else "")
                     + "".join(f"<li>{_esc(it['url'])} — {_esc(it['status'])}: {_esc(it['error'])}</li>"
                               for it in failures) + "</ul></section>")
    parts.append("</div><div>")

    # Right column: one panel per media item.
    if not items:
        parts.append("<section><h2>Media</h2><p class=\"empty\">No media links found.</p></section>")
    for it in items:
        al = aligned.get(it["id"], {})
        summ = al.get("summary", {})
        parts.append(f'<section class="media" id="media-{_esc(it["id"])}"><h2>{_esc(Path(it["url"]).name or it["url"])}</h2>')
        if it.get("path"):
            parts.append(f'<video id="player-{_esc(it["id"])}" controls preload="metadata" '
                         f'src="{_esc(it["path"])}"></video>')
        cov = summ.get("coverage")
        parts.append("<dl class=\"stats\">"
                     f"<dt>status</dt><dd class=\"status-{_esc(it['status'])}\">{_esc(it['status'])}"
                     + (f" — {_esc(it['error'])}" if it.get("error") else "") + "</dd>"
                     f"<dt>duration</dt><dd>{_clock(it.get('duration'))}</dd>"
                     f"<dt>url</dt><dd><a href=\"{_esc(it['url'])}\">{_esc(it['url'])}</a></dd>"
                     + (f"<dt>coverage</dt><dd>{cov:.0%} of article sentences spoken or paraphrased</dd>"
                        if cov is not None else "")
                     + "</dl>")
        if al and it.get("duration"):
            sents = [dict(s, order=order.get((s["paragraph"], s["index"]), 0)) for s in al.get("sentences", [])]
            parts.append("<h2>Alignment map</h2>" + _alignment_map(it["id"], sents, max(len(order), 1),
                                                                      float(it["duration"])))
        if al:
            vo = al.get("video_only", [])
            parts.append("<h2>Said in the video, not in the article</h2>")
            parts.append("<ul class=\"vo\">" + "".join(
                f'<li><button class="chip" data-media="{_esc(it["id"])}" data-seek="{v["start"]:.2f}">'
                f'{_clock(v["start"])}</button>{_esc(v["text"])}</li>' for v in vo) + "</ul>"
                if vo else "<p class=\"empty\">Nothing: every spoken passage matches the article.</p>")
        kf = frames.get(it["id"], [])
        if kf:
            parts.append("<h2>Keyframes</h2><div class=\"kf\">" + "".join(
                f'<figure data-media="{_esc(it["id"])}" data-seek="{f["time"]:.2f}">'
                f'<img loading="lazy" alt="keyframe" src="{_img_src(out_dir, f["path"], embed_images)}">'
                f'<figcaption>{_clock(f["time"])}</figcaption></figure>' for f in kf) + "</div>")
        parts.append("</section>")
    parts.append(f"</div></main><script>{_asset('report.js')}</script></body></html>\n")
    return "".join(parts)


def write_report(out_dir: Path, article: Article | None, manifest: Manifest,
                 alignments: dict[str, Any], *, embed_images: bool = False) -> Path:
    """Render and write ``out_dir/report.html`` atomically."""
    path = Path(out_dir) / "report.html"
    atomic_write_text(path, render_report(out_dir, article, manifest, alignments, embed_images=embed_images))
    return path
