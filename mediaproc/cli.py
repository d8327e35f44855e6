"""Command line: parse options, call the stage or pipeline functions, map outcomes to exit codes.

Every option's default, choices and help come from the option classes in
:mod:`mediaproc.options`; this module only spells them as flags.

Exit status (every command): 0 all ok; 1 some item failed or was only partly processed
(the rest were still processed; see the manifest), or the run was interrupted; 2 usage
error; 130 a second Ctrl-C (exit at once).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sqlite3
import sys
import time
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .errors import MediaprocError, OptionsError
from .options import (AlignOptions, CacheOptions, DownloadOptions, KeyframeOptions, OcrOptions, RunOptions, SecurityOptions,
                      TranscribeOptions, choices, describe_range, opt_fields)
from ._text import clock, printable
from .schema import dump

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_EXIT_HELP = ("Exit status: 0 all ok; 1 some item failed or was partial (the others were still processed), "
              "or the run was interrupted; 2 usage error.")


# --- options generated from the option classes ------------------------------------------------------------

def _click_type(cls: type, name: str) -> tuple[Any, bool]:
    """(click type, is a flag) for a field."""
    allowed = choices(cls, name)
    if allowed is not None:
        return click.Choice([a for a in allowed if a is not None]), False
    hint = typing.get_type_hints(cls)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    base = args[0]
    if base is bool:
        return bool, True
    if base is Path:
        return click.Path(path_type=Path), False
    return base, False


def _group(cls: type, key: str) -> Callable[[Callable], Callable]:
    """click options for every command-line field of option class ``cls``; values land in ``key__<field>``."""
    decorators = []
    for name, default, o in opt_fields(cls):
        flag = o.flag or "--" + name.replace("_", "-")
        kind, is_flag = _click_type(cls, name)
        extra = f" Range: {describe_range(o)}." if describe_range(o) else ""
        param = f"{key}__{name}"
        if is_flag:
            spelling = flag if not default else f"{flag}/--no-{flag[2:]}"
            decorators.append(click.option(spelling, param, is_flag=True, default=default,
                                           show_default=bool(default), help=o.help))
            continue
        callback = None
        if o.parse is not None:
            parse = o.parse

            def callback(_ctx: Any, _param: Any, value: Any, parse: Callable = parse) -> Any:
                try:
                    return None if value is None else parse(value)
                except MediaprocError as exc:
                    raise click.BadParameter(str(exc)) from None
            kind = str
        shown = o.shown if o.shown is not None else default
        decorators.append(click.option(flag, param, type=kind, default=shown, callback=callback,
                                       show_default=default is not None, metavar=o.metavar, help=o.help + extra))

    def apply(f: Callable) -> Callable:
        for d in reversed(decorators):
            f = d(f)
        return f
    return apply


def _build(cls: type, kw: dict[str, Any], key: str) -> Any:
    """An instance of ``cls`` from the command-line values (others keep their defaults); exit 2 if invalid."""
    values = {f.name: kw.pop(f"{key}__{f.name}") for f in dataclasses.fields(cls) if f"{key}__{f.name}" in kw}
    try:
        return cls(**values)
    except OptionsError as exc:
        raise click.UsageError(str(exc)) from None


def _stack(*decorators: Callable) -> Callable:
    def apply(f: Callable) -> Callable:
        for d in reversed(decorators):
            f = d(f)
        return f
    return apply


def _verbosity(f: Callable) -> Callable:
    """-v/-q, accepted before or after the subcommand."""
    def set_level(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value:
            ctx.ensure_object(dict)[param.name] = value
            root = ctx.find_root()
            root.ensure_object(dict)[param.name] = value
        return value
    return _stack(
        click.option("-v", "--verbose", count=True, expose_value=False, callback=set_level,
                     help="More detail (-vv for debug)."),
        click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=set_level,
                     help="Only errors and the final result; no progress bars."),
    )(f)


def _quiet(ctx: click.Context) -> bool:
    return bool(ctx.find_root().ensure_object(dict).get("quiet"))


def _setup_logging(ctx: click.Context) -> None:
    obj = ctx.find_root().ensure_object(dict)
    verbose = obj.get("verbose", 0)
    level = logging.ERROR if obj.get("quiet") else (logging.DEBUG if verbose > 1 else
                                                    logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)


out_option = click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path),
                          default=Path("mediaproc-out"), show_default=True, help="Output directory.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print a JSON result on stdout for scripts.")
download_options = _stack(_group(DownloadOptions, "download"), _group(CacheOptions, "cache"),
                          _group(SecurityOptions, "security"))
keyframe_options = _group(KeyframeOptions, "keyframes")
ocr_options = _group(OcrOptions, "ocr")
transcribe_options = _group(TranscribeOptions, "transcribe")


def _echo_json(obj: Any) -> None:
    click.echo(json.dumps(dump(obj), indent=2, ensure_ascii=False))


class _Group(click.Group):
    """Turns expected errors into one line on stderr and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OptionsError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)
        except MediaprocError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_FAILED)


@click.group(cls=_Group, epilog=_EXIT_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mediaproc")
@_verbosity
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Find the videos embedded in news articles, download them, extract keyframes, transcribe
    them with Whisper, align the transcript with the article text, and write an HTML report.

    \b
    Typical use:
      mediaproc run https://example.org/news/story.html
      mediaproc run saved/article.txt -o out/
      mediaproc batch saved-articles/ -o out/ --jobs 2
      mediaproc links article.html --json

    Security: links in pages fetched over the network never reach local files or private
    addresses, and saved articles use local media only inside their own folder, unless
    --allow-local-files / --allow-private-hosts say otherwise (README, "Security").
    """
    ctx.ensure_object(dict)


def _pipeline_command(f: Callable) -> Callable:
    return _stack(
        out_option,
        click.option("--all-links", is_flag=True, help=_help(RunOptions, "all_links")),
        click.option("--embed-images", is_flag=True, help=_help(RunOptions, "embed_images")),
        click.option("--no-index", is_flag=True, help="Do not " + _help(RunOptions, "index")[0].lower()
                     + _help(RunOptions, "index")[1:]),
        download_options, keyframe_options, ocr_options, transcribe_options, json_option, _verbosity,
    )(f)


def _help(cls: type, name: str) -> str:
    return next(f.metadata["opt"].help for f in dataclasses.fields(cls) if f.name == name)


def _run_options(kw: dict[str, Any], *, progress: bool) -> RunOptions:
    download = _build(DownloadOptions, kw, "download")
    return RunOptions(out=kw.pop("out"), all_links=kw.pop("all_links"), embed_images=kw.pop("embed_images"),
                      index=not kw.pop("no_index"),
                      download=dataclasses.replace(download, progress=progress),
                      keyframes=_build(KeyframeOptions, kw, "keyframes"), ocr=_build(OcrOptions, kw, "ocr"),
                      transcribe=_build(TranscribeOptions, kw, "transcribe"), align=_build(AlignOptions, kw, "align"),
                      security=_build(SecurityOptions, kw, "security"), cache=_build(CacheOptions, kw, "cache"))


def _report_batch(summary: Any, as_json: bool, quiet: bool, out: Path) -> None:
    from .batch import format_summary, summary_json
    if as_json:
        click.echo(summary_json(summary), nl=False)
    elif not quiet:
        for a in summary.articles_detail:
            click.echo(printable(f"{a['status']:<14} {out / a['id'] / 'report.html'}  ({a['source']})"))
    click.echo(printable(format_summary(summary)), err=as_json or quiet)


def _emit(message: str) -> None:
    """One event line on stderr, above any progress bar, with nothing a page wrote able to drive the terminal."""
    from tqdm import tqdm
    tqdm.write(printable(message), file=sys.stderr)


def _finish_batch(ctx: click.Context, summary: Any) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    if summary.interrupted:      # a thread stuck in a parser must not keep the process alive after Ctrl-C
        os._exit(summary.exit_code)
    ctx.exit(summary.exit_code)


@cli.command(epilog=_EXIT_HELP)
@click.argument("sources", nargs=-1, required=True)
@_pipeline_command
@click.pass_context
def run(ctx: click.Context, sources: tuple[str, ...], as_json: bool, **kw: Any) -> None:
    """Run every stage on each SOURCE: a local .txt/.md/.html article, an article URL,
    or a direct media URL or file.

    Writes OUT/<article-id>/ with article.json, manifest.json, report.html and, per media
    item, media/<media-id>/ with keyframes/, keyframes.json, transcript.{txt,srt,vtt,tsv,json}
    and alignment.json.
    """
    from .batch import BatchOptions, run_batch
    from .pipeline import check_options
    _setup_logging(ctx)
    options = _run_options(kw, progress=not _quiet(ctx))
    check_options(options)
    summary = run_batch(list(sources), options, BatchOptions(jobs=2, force=True, write_summary=False), on_event=_emit)
    _report_batch(summary, as_json, _quiet(ctx), options.out)
    _finish_batch(ctx, summary)


@cli.command(epilog=_EXIT_HELP)
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--urls", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A text file of article URLs, one per line (instead of or besides DIRECTORY).")
@click.option("--pattern", "patterns", multiple=True,
              help="Glob of article files (repeatable; default *.txt *.md *.html *.htm).")
@click.option("--jobs", default=2, show_default=True,
              help="Articles downloaded and keyframed ahead while transcription runs.")
@click.option("--force", is_flag=True, help="Redo articles that are already complete.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first article that fails.")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: this process; dask: one task per article on a Dask cluster ([dask] extra).")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="Dask scheduler address (default with --executor dask: a LocalCluster here).")
@click.option("--workers", default=2, show_default=True, help="LocalCluster worker processes (no --scheduler).")
@_pipeline_command
@click.pass_context
def batch(ctx: click.Context, directory: Path | None, urls: Path | None, patterns: tuple[str, ...], jobs: int,
          force: bool, fail_fast: bool, executor: str, scheduler: str | None, workers: int, as_json: bool,
          **kw: Any) -> None:
    """Process every article under DIRECTORY (recursively) into OUT/<article-id>/.

    Resumable: complete articles are skipped, failed or missing ones redone; a run killed at
    any point resumes. Media and transcripts shared between articles are fetched and
    transcribed once. Writes OUT/batch-summary.json. With --executor dask, OUT and
    --cache-dir must be paths every worker sees.
    """
    from .batch import ARTICLE_PATTERNS, BatchOptions, LocalExecutor, discover, read_url_list, run_batch
    from .pipeline import check_options
    _setup_logging(ctx)
    if directory is None and urls is None:
        raise click.UsageError("give a DIRECTORY, --urls FILE, or both")
    if scheduler and executor != "dask":
        raise click.UsageError("--scheduler needs --executor dask")
    sources = discover(directory, patterns or ARTICLE_PATTERNS, skip=kw["out"]) if directory else []
    sources += read_url_list(urls) if urls else []
    bar = sys.stderr.isatty() and not _quiet(ctx)
    options = _run_options(kw, progress=False)       # one batch bar; no per-file bars under it
    check_options(options)
    if executor == "dask":
        from .cluster import DaskExecutor
        runner: Any = DaskExecutor(scheduler, workers)
    else:
        runner = LocalExecutor(jobs)
    summary = run_batch(sources, options, BatchOptions(jobs=jobs, force=force, fail_fast=fail_fast, progress=bar),
                        executor=runner, on_event=_emit)
    _report_batch(summary, as_json, _quiet(ctx), options.out)
    _finish_batch(ctx, summary)


@cli.command(epilog=_EXIT_HELP)
@click.argument("source")
@click.option("--all-links", is_flag=True, help="Also list links outside the article body.")
@click.option("--explain", is_flag=True,
              help="Every link (in the article or not) with the decision and the evidence behind it.")
@json_option
@_verbosity
@click.pass_context
def links(ctx: click.Context, source: str, all_links: bool, explain: bool, as_json: bool) -> None:
    """List the video and audio links found in SOURCE (file or URL), one per line or as JSON.

    A link is the article's when it sits inside or between the article's paragraphs and nothing says
    otherwise: a page region that is not the article (aside, nav, header, footer, ARIA roles, class words
    such as related, sidebar, promo, live), a live channel, a playlist, a script that configures the whole
    page. --explain shows that evidence per link; --json always carries it.
    """
    from .links import find_links_in, format_links
    _setup_logging(ctx)
    found = [ln for ln in find_links_in(source) if ln.in_article or all_links or explain]
    if as_json:
        _echo_json(found)
    elif found:
        click.echo(printable(format_links(found, explain=explain)))    # URLs and class names from pages
    else:
        click.echo(f"{source}: no media links found", err=True)


def _each_media(ctx: click.Context, media: tuple[str, ...], kw: dict[str, Any],
                work: Callable[[Any, Any, Path], tuple[dict[str, Any], str, bool]], out: Path, as_json: bool) -> None:
    """Download (or take as they are) each MEDIA, run ``work`` on it, and report: one line each, or JSON.

    ``work(result, cache, media_dir)`` returns (JSON record, line, whether it is not ok). A failure is one
    line on stderr and the next MEDIA is still done.
    """
    import threading

    from . import _fs, _net
    from ._layout import Cache, claim, media_id
    from .batch import interruptible
    from .downloads import download
    from .pipeline import Cancelled, stoppable
    _setup_logging(ctx)
    options = _build(DownloadOptions, kw, "download")
    security = _build(SecurityOptions, kw, "security")
    policy = _net.Policy(security.allow_local_files, security.allow_private_hosts)
    cache = Cache.from_options(_build(CacheOptions, kw, "cache"))
    results, failed, stop = [], False, threading.Event()
    with interruptible(stop):
        for src in media:
            if stop.is_set():
                failed = True
                click.echo(printable(f"INTERRUPTED {src}"), err=True)
                continue
            res = None
            try:
                res = download(src, options, cache=cache, allowed=_net.allowed_for_url(src, policy), stop=stop)
                fetched = res
                record, line, bad = stoppable(lambda: work(fetched, cache, claim(out / media_id(src))), stop)
            except Cancelled:
                failed = True
                click.echo(printable(f"INTERRUPTED {src}"), err=True)
                continue
            except MediaprocError as exc:
                failed = True
                click.echo(printable(f"FAILED {src}: {exc}"), err=True)
                continue
            finally:
                if res is not None and res.cleanup is not None:
                    _fs.remove_temp_dir(res.cleanup)
            failed |= bad
            results.append({**record, "media": src})
            if not as_json:
                click.echo(printable(line))
    if as_json:
        _echo_json(results)
    if stop.is_set():                 # work left running in a thread must not keep the process alive
        sys.stdout.flush()
        os._exit(EXIT_FAILED)
    ctx.exit(EXIT_FAILED if failed else EXIT_OK)


def _media_command(stage_options: Callable) -> Callable:
    """The arguments and options of a command that runs one stage on each MEDIA file or URL."""
    return _stack(click.argument("media", nargs=-1, required=True), out_option, stage_options, download_options,
                  json_option, _verbosity, click.pass_context)


@cli.command(epilog=_EXIT_HELP)
@_media_command(keyframe_options)
def keyframes(ctx: click.Context, media: tuple[str, ...], out: Path, as_json: bool, **kw: Any) -> None:
    """Extract keyframes and a contact sheet from each MEDIA (file or URL) into OUT/<media-id>/."""
    from .keyframes import extract_keyframes
    options = _build(KeyframeOptions, kw, "keyframes")

    def work(res: Any, cache: Any, media_dir: Path) -> tuple[dict[str, Any], str, bool]:
        kf = extract_keyframes(res.path, media_dir, options, info=res.info, sha256=res.sha256, cache=cache)
        note = f"  ({kf.reason or kf.error})" if (kf.reason or kf.error) else ""
        return (dump(kf), f"{kf.status:<8} {kf.mode:<9} {len(kf.frames):>3} frames  {media_dir}{note}",
                kf.status == "partial")

    _each_media(ctx, media, kw, work, out, as_json)


@cli.command(epilog=_EXIT_HELP)
@_media_command(transcribe_options)
def transcribe(ctx: click.Context, media: tuple[str, ...], out: Path, as_json: bool, **kw: Any) -> None:
    """Transcribe each MEDIA (file or URL) into OUT/<media-id>/transcript.{txt,srt,vtt,tsv,json}."""
    from .engines import Engines
    from .transcription import check_options, transcribe as run_transcribe, write_transcript
    options = _build(TranscribeOptions, kw, "transcribe")
    check_options(options)
    engines: Engines | None = None
    progress = sys.stderr.isatty() and not _quiet(ctx)

    def work(res: Any, cache: Any, media_dir: Path) -> tuple[dict[str, Any], str, bool]:
        nonlocal engines
        engines = engines or Engines(cache.models)
        t = run_transcribe(engines.get(options), res.path, options, cache=cache, progress=progress, info=res.info,
                           sha256=res.sha256)
        files = write_transcript(t, media_dir)
        return {"files": files, "language": t.language, "text": t.text}, f"{media_dir}: {t.text}", False

    _each_media(ctx, media, kw, work, out, as_json)


@cli.command(epilog=_EXIT_HELP)
@click.argument("article")
@click.argument("transcript_json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@out_option
@_group(AlignOptions, "align")
@json_option
@_verbosity
@click.pass_context
def align(ctx: click.Context, article: str, transcript_json: Path, out: Path, as_json: bool, **kw: Any) -> None:
    """Align TRANSCRIPT_JSON (a transcript.json from `mediaproc transcribe`) with ARTICLE (an
    article file, URL or article.json); write OUT/alignment.json and transcript.corrected.{srt,vtt}."""
    from .alignment import align as run_align, write_alignment, write_corrected_subtitles
    from .article import load_article
    from .transcription import load_transcript
    _setup_logging(ctx)
    from ._layout import claim
    options = _build(AlignOptions, kw, "align")
    art, tr = load_article(article), load_transcript(transcript_json)
    out = claim(out)
    result = run_align(art, tr, options=options)
    write_alignment(result, out / "alignment.json")
    write_corrected_subtitles(result, tr, out)
    if as_json:
        _echo_json(result)
    else:
        s = result.summary
        click.echo(f"{out / 'alignment.json'}: {s.spoken} spoken, {s.paraphrased} paraphrased, "
                   f"{s.not_spoken} not spoken of {s.sentences} sentences; coverage {s.coverage:.0%}; "
                   f"{s.video_only_spans} video-only spans")


@cli.command(epilog=_EXIT_HELP)
@click.argument("out", type=click.Path(file_okay=False, exists=True, path_type=Path))
@json_option
@_verbosity
@click.pass_context
def index(ctx: click.Context, out: Path, as_json: bool) -> None:
    """Rebuild OUT/index.sqlite and OUT/index.html from the JSON files in OUT.

    The JSON files are the source of truth; the index (SQLite with FTS5: articles, media, transcript
    segments, alignments, keyframes with perceptual hashes, reused footage) is derived from them and can
    be rebuilt at any time. batch and run keep it up to date as they go. It opens as it is in the sqlite3
    shell and in Datasette; the schema is in mediaproc/archive.py.
    """
    from .archive import rebuild_index
    _setup_logging(ctx)
    t0 = time.monotonic()
    try:
        n = rebuild_index(out)
    except (OSError, sqlite3.Error) as exc:
        raise click.ClickException(f"cannot index {out}: {exc}") from None
    if as_json:
        _echo_json({"articles": n, "index": str(out / "index.sqlite"), "overview": str(out / "index.html"),
                    "seconds": round(time.monotonic() - t0, 3)})
    elif not _quiet(ctx):
        click.echo(f"indexed {n} articles in {time.monotonic() - t0:.1f} s: {out / 'index.sqlite'}, {out / 'index.html'}")


@cli.command(epilog="Exit status: 0 hits found; 1 no hits; 2 usage error or no index.")
@click.argument("query")
@click.argument("out", required=False, default="mediaproc-out",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--in", "within", type=click.Choice(["all", "transcripts", "screen", "articles"]), default="all",
              show_default=True, help="Search transcripts, on-screen text (keyframes, burned-in subtitles), "
                                      "article text, or all.")
@click.option("--language", metavar="CODE", help="Only transcript segments in this language (en, ar, ru...) and "
                                                 "articles written in it.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@json_option
@_verbosity
@click.pass_context
def search(ctx: click.Context, query: str, out: Path, within: str, language: str | None, limit: int,
           as_json: bool) -> None:
    """Full-text search of the archive in OUT (default ./mediaproc-out): transcripts, on-screen text and
    article text.

    QUERY words must all occur; "quoted words" are a phrase; a trailing * a prefix (Damas*); OR and NOT
    combine. Each hit prints the article, the media and the time, a snippet with the hit in [ ], and the
    report that opens at that moment (report.html#t=SECONDS&m=MEDIA).
    """
    from .archive import search as run_search
    _setup_logging(ctx)
    try:
        hits = run_search(out, query, within=within, language=language, limit=limit)
    except FileNotFoundError as exc:
        raise click.UsageError(str(exc)) from None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="QUERY") from None
    if as_json:
        _echo_json([dataclasses.asdict(h) | {"report": str(out / h.report)} for h in hits])
    else:
        for h in hits:
            where = f"{h.media_url or h.media_id} at {clock(h.start)}{' (on screen)' if h.within == 'on screen' else ''}" \
                if h.within != "article" else "article text"
            click.echo(printable(f"{h.title or h.article_id} | {where}{f' [{h.language}]' if h.language else ''}\n"
                                 f"    {h.snippet}\n    {out / h.report}"))    # text from pages: no escapes
    if not hits:
        if not as_json:
            click.echo(f"no hits for {query!r} in {out}", err=True)
        ctx.exit(1)


@cli.command(epilog=_EXIT_HELP)
@click.option("--prepare", is_flag=True, help="Assemble and convert the bundled models now (setup does this).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), help=_help(CacheOptions, "cache_dir"))
@json_option
@_verbosity
@click.pass_context
def models(ctx: click.Context, prepare: bool, cache_dir: Path | None, as_json: bool) -> None:
    """List the Whisper models available offline and where they are."""
    from ._layout import Cache
    from .models import list_models, prepare_bundled_models
    _setup_logging(ctx)
    models_dir = Cache.at(cache_dir).models
    if prepare:
        paths = prepare_bundled_models(models_dir)
        if not _quiet(ctx):
            click.echo("bundled models ready: " + ", ".join(map(str, paths)))
        return
    found = list_models(models_dir)
    if as_json:
        _echo_json(found)
        return
    for m in found:
        where = m.get("ct2_dir") or m.get("checkpoint") or m["source"]
        state = ("default, " if m.get("default") else "") + ("available" if m["available"] else "not available offline")
        click.echo(f"{m['name']:<15} {state:<30} {','.join(m['engines']):<30} {where}")


@cli.command(epilog=_EXIT_HELP)
@out_option
@click.option("--keep-serving", is_flag=True, help="Keep the loopback server up until Ctrl-C.")
@_verbosity
@click.pass_context
def demo(ctx: click.Context, out: Path, keep_serving: bool) -> None:
    """Build a small article and a narrated multi-scene MP4 locally (espeak-ng + ffmpeg), serve
    them on 127.0.0.1, run the whole pipeline on the article URL, and print where the
    transcript and report are. Needs no network."""
    from .demo import run_demo
    _setup_logging(ctx)
    ctx.exit(run_demo(out, keep_serving=keep_serving, echo=click.echo))


def main() -> None:
    """Console-script entry: usage errors exit 2 (click's default), failures 1."""
    cli(prog_name="mediaproc")


if __name__ == "__main__":
    main()
