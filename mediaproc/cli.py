"""Command line: parse options, call the stage or pipeline functions, map outcomes to exit codes.

Exit status (every command): 0 all ok; 1 some item failed or was only partly
processed (the rest were still processed; see the manifest); 2 usage error.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .utils import MediaprocError, to_jsonable

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_EXIT_HELP = "Exit status: 0 all ok, 1 some item failed (the others were still processed), 2 usage error."

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.I)


def _filesize(_ctx: Any, _param: Any, value: str | None) -> int | None:
    if value is None:
        return None
    m = _SIZE.match(value)
    if not m:
        raise click.BadParameter(f"{value!r} is not a size like 500M or 2G")
    return int(float(m.group(1)) * 1024 ** "bkmgt".index((m.group(2) or "b").lower()))


def _stack(*decorators: Callable) -> Callable:
    def apply(f: Callable) -> Callable:
        for d in reversed(decorators):
            f = d(f)
        return f
    return apply


out_option = click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path),
                          default=Path("mediaproc-out"), show_default=True, help="Output directory.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print a JSON result on stdout for scripts.")

download_options = _stack(
    click.option("--max-filesize", default="2G", show_default=True, callback=_filesize,
                 help="Refuse media larger than this (checked before and during download)."),
    click.option("--timeout", default=30.0, show_default=True, help="Seconds before a stalled server is given up."),
    click.option("--retries", default=5, show_default=True, help="Retries for connection errors and 5xx."),
    click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
                 help="Media and transcript cache (default: $MEDIAPROC_CACHE or the user cache dir)."),
    click.option("--no-cache", is_flag=True, help="Do not reuse or store downloads in the media cache."),
    click.option("--refresh", is_flag=True, help="Download and transcribe again even when cached."),
)
keyframe_options = _stack(
    click.option("--keyframes", "keyframe_mode", type=click.Choice(["keyframes", "scenes", "interval"]),
                 default="keyframes", show_default=True,
                 help="keyframes: decode only codec key frames (fast); scenes: one frame per shot; "
                      "interval: one frame every --interval seconds."),
    click.option("--max-keyframes", default=40, show_default=True, help="Keep at most this many frames."),
    click.option("--min-gap", default=1.0, show_default=True, help="Minimum seconds between kept frames."),
    click.option("--interval", default=10.0, show_default=True, help="Seconds between frames in interval mode."),
    click.option("--max-width", default=640, show_default=True, help="Scale keyframes down to this width."),
    click.option("--quality", default=85, show_default=True, help="JPEG quality of the keyframes (1-95)."),
)
transcribe_options = _stack(
    click.option("--model", default="tiny.en", show_default=True,
                 help="Whisper model: a name (tiny.en is bundled), a .pt checkpoint or a CTranslate2 directory."),
    click.option("--engine", type=click.Choice(["openai-whisper", "faster-whisper"]), default="openai-whisper",
                 show_default=True, help="faster-whisper needs the [faster] extra."),
    click.option("--language", default=None, help="Spoken language code (default: detect; English for .en models)."),
    click.option("--task", type=click.Choice(["transcribe", "translate"]), default="transcribe", show_default=True),
    click.option("--beam-size", type=int, default=None, help="Beam search width (default: greedy)."),
    click.option("--best-of", type=int, default=5, show_default=True,
                 help="Candidates when sampling with a non-zero temperature."),
    click.option("--temperature", type=float, default=0.0, show_default=True,
                 help="Sampling temperature; on a failed decode Whisper retries at higher ones."),
    click.option("--condition-on-previous-text/--no-condition-on-previous-text", default=True, show_default=True,
                 help="Prompt each window with the previous text (off: fewer repetition loops)."),
    click.option("--initial-prompt", default=None, help="Text to prime the decoder (names, the article title)."),
    click.option("--word-timestamps/--no-word-timestamps", default=True, show_default=True),
    click.option("--threads", type=int, default=0, help="CPU threads for inference (0: library default)."),
    click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu", show_default=True),
)


def _download_opts(kw: dict[str, Any]):
    from .download import DownloadOptions
    if kw["cache_dir"]:   # the whole cache (media, transcripts), as $MEDIAPROC_CACHE; Dask workers inherit it
        os.environ["MEDIAPROC_CACHE"] = str(kw["cache_dir"].resolve())
    return DownloadOptions(max_filesize=kw["max_filesize"], timeout=kw["timeout"],
                           retries=kw["retries"], use_cache=not kw["no_cache"], refresh=kw["refresh"],
                           progress=not kw.get("quiet"))


def _keyframe_opts(kw: dict[str, Any]):
    from .keyframes import KeyframeOptions
    try:
        return KeyframeOptions(mode=kw["keyframe_mode"], max_keyframes=kw["max_keyframes"], min_gap=kw["min_gap"],
                               interval=kw["interval"], max_width=kw["max_width"], quality=kw["quality"])
    except MediaprocError as exc:
        raise click.UsageError(str(exc)) from None


def _transcribe_opts(kw: dict[str, Any]):
    """Checked before any work starts, so a typo does not cost a whole run of downloads."""
    from .models import resolve_model
    from .transcribe import TranscribeOptions
    options = TranscribeOptions(model=kw["model"], engine=kw["engine"], language=kw["language"], task=kw["task"],
                                beam_size=kw["beam_size"], best_of=kw["best_of"], temperature=kw["temperature"],
                                condition_on_previous_text=kw["condition_on_previous_text"],
                                initial_prompt=kw["initial_prompt"], word_timestamps=kw["word_timestamps"],
                                threads=kw["threads"], device=kw["device"])
    try:
        options.validate()
        resolve_model(options.model)
    except MediaprocError as exc:
        raise click.UsageError(str(exc)) from None
    return options


def _run_opts(kw: dict[str, Any]):
    from .pipeline import RunOptions
    return RunOptions(out=kw["out"], all_links=kw["all_links"], embed_images=kw["embed_images"],
                      download=_download_opts(kw), keyframes=_keyframe_opts(kw),
                      transcribe=_transcribe_opts(kw), refresh=kw["refresh"])


def _echo_json(obj: Any) -> None:
    click.echo(json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False))


class _Group(click.Group):
    """Turns expected errors into one line on stderr and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MediaprocError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_FAILED)


@click.group(cls=_Group, epilog=_EXIT_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mediaproc")
@click.option("-v", "--verbose", count=True, help="More detail (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and the final result; no progress bars.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Find the videos embedded in news articles, download them, extract keyframes, transcribe
    them with Whisper, align the transcript with the article text, and write an HTML report.

    \b
    Typical use:
      mediaproc run https://example.org/news/story.html
      mediaproc run saved/article.txt -o out/
      mediaproc batch saved-articles/ -o out/ --jobs 2
      mediaproc links article.html --json
    """
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"quiet": quiet, "verbose": verbose}


def _pipeline_command(f: Callable) -> Callable:
    return _stack(
        out_option,
        click.option("--all-links", is_flag=True, help="Also fetch links outside the article body "
                                                       "(navigation, related-video rails, footers)."),
        click.option("--embed-images", is_flag=True, help="Embed keyframes in report.html instead of linking them."),
        download_options, keyframe_options, transcribe_options, json_option,
    )(f)


def _report_batch(summary: Any, as_json: bool, quiet: bool, out: Path) -> None:
    from .batch import format_summary, summary_json
    if as_json:
        click.echo(summary_json(summary))
    else:
        if not quiet:
            for a in summary.articles_detail:
                click.echo(f"{a['status']:<14} {out / a['id'] / 'report.html'}  ({a['source']})")
        click.echo(format_summary(summary), err=as_json or quiet)


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
    kw["quiet"] = ctx.obj["quiet"]
    summary = run_batch(list(sources), _run_opts(kw),
                        BatchOptions(jobs=2, force=True, progress=False, write_summary=False))
    _report_batch(summary, as_json, ctx.obj["quiet"], kw["out"])
    ctx.exit(summary.exit_code)


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
    from .batch import ARTICLE_PATTERNS, BatchOptions, discover, read_url_list, run_batch
    if directory is None and urls is None:
        raise click.UsageError("give a DIRECTORY, --urls FILE, or both")
    sources = discover(directory, patterns or ARTICLE_PATTERNS) if directory else []
    sources += read_url_list(urls) if urls else []
    if scheduler and executor != "dask":
        raise click.UsageError("--scheduler needs --executor dask")
    kw["quiet"] = ctx.obj["quiet"]
    options = BatchOptions(jobs=jobs, force=force, fail_fast=fail_fast,
                           progress=sys.stderr.isatty() and not ctx.obj["quiet"])
    if executor == "dask":
        from .cluster import run_batch_dask
        summary = run_batch_dask(sources, _run_opts(kw), options, scheduler=scheduler, workers=workers)
    else:
        summary = run_batch(sources, _run_opts(kw), options)
    _report_batch(summary, as_json, ctx.obj["quiet"], kw["out"])
    ctx.exit(summary.exit_code)


@cli.command(epilog=_EXIT_HELP)
@click.argument("source")
@click.option("--all-links", is_flag=True, help="Also list links outside the article body.")
@json_option
def links(source: str, all_links: bool, as_json: bool) -> None:
    """List the video and audio links found in SOURCE (file or URL), one per line or as JSON."""
    from .article import load_document
    from .links import find_links, format_links
    from .pipeline import parse_or_none
    doc = load_document(source)
    found = [ln for ln in find_links(doc, parse_or_none(doc)) if ln.in_article or all_links]
    if as_json:
        _echo_json(found)
    elif found:
        click.echo(format_links(found))
    else:
        click.echo(f"{source}: no media links found", err=True)


def _local_media(items: tuple[str, ...], kw: dict[str, Any]) -> list[tuple[str, Any]]:
    """Local files as they are; URLs downloaded through the cache. Failures are returned, not raised."""
    from .download import download_all
    return list(zip(items, download_all(list(items), _download_opts(kw))))


@cli.command(epilog=_EXIT_HELP)
@click.argument("media", nargs=-1, required=True)
@out_option
@keyframe_options
@download_options
@json_option
@click.pass_context
def keyframes(ctx: click.Context, media: tuple[str, ...], out: Path, as_json: bool, **kw: Any) -> None:
    """Extract keyframes and a contact sheet from each MEDIA (file or URL) into OUT/<media-id>/."""
    from .keyframes import extract_keyframes
    from .pipeline import media_id
    options = _keyframe_opts(kw)
    results, failed = [], False
    for src, res in _local_media(media, kw):
        try:
            if isinstance(res, MediaprocError):
                raise res
            kf = extract_keyframes(res.path, out / media_id(src), options, info=res.info)
        except MediaprocError as exc:
            failed = True
            click.echo(f"FAILED {src}: {exc}", err=True)
            continue
        failed |= kf.status == "partial"
        results.append({"media": src, **to_jsonable(kf)})
        if not as_json:
            click.echo(f"{kf.status:<8} {kf.mode:<9} {len(kf.frames):>3} frames  {out / media_id(src)}"
                       + (f"  ({kf.reason or kf.error})" if (kf.reason or kf.error) else ""))
    if as_json:
        _echo_json(results)
    ctx.exit(EXIT_FAILED if failed else EXIT_OK)


@cli.command(epilog=_EXIT_HELP)
@click.argument("media", nargs=-1, required=True)
@out_option
@transcribe_options
@download_options
@json_option
@click.pass_context
def transcribe(ctx: click.Context, media: tuple[str, ...], out: Path, as_json: bool, **kw: Any) -> None:
    """Transcribe each MEDIA (file or URL) into OUT/<media-id>/transcript.{txt,srt,vtt,tsv,json}."""
    from .pipeline import media_id
    from .transcribe import NoAudio, transcribe as run_transcribe, write_transcript
    results, failed = [], False
    for src, res in _local_media(media, kw):
        try:
            if isinstance(res, MediaprocError):
                raise res
            t = run_transcribe(res.path, _transcribe_opts(kw), refresh=kw["refresh"],
                               progress=sys.stderr.isatty() and not ctx.obj["quiet"])
        except NoAudio as exc:
            failed = True
            click.echo(f"SKIPPED {src}: {exc}", err=True)
            continue
        except MediaprocError as exc:
            failed = True
            click.echo(f"FAILED {src}: {exc}", err=True)
            continue
        files = write_transcript(t, out / media_id(src))
        results.append({"media": src, "files": files, "language": t.language, "text": t.text})
        if not as_json:
            click.echo(f"{files['json'].parent}: {t.text}")
    if as_json:
        _echo_json(results)
    ctx.exit(EXIT_FAILED if failed else EXIT_OK)


@cli.command(epilog=_EXIT_HELP)
@click.argument("article")
@click.argument("transcript_json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@out_option
@click.option("--spoken-threshold", type=float, default=None,
              help="Score in [0, 1] above which a sentence counts as said nearly verbatim (default 0.72).")
@click.option("--paraphrase-threshold", type=float, default=None,
              help="Content-word overlap above which an unmatched sentence counts as paraphrased (default 0.3).")
@json_option
def align(article: str, transcript_json: Path, out: Path, spoken_threshold: float | None,
          paraphrase_threshold: float | None, as_json: bool) -> None:
    """Align TRANSCRIPT_JSON (a transcript.json from `mediaproc transcribe`) with ARTICLE (an
    article file, URL or article.json); write OUT/alignment.json and transcript.corrected.{srt,vtt}."""
    from dataclasses import replace

    from .align import AlignOptions, align as run_align, write_alignment, write_corrected_subtitles
    from .article import load_article
    from .transcribe import load_transcript
    options = AlignOptions()
    if spoken_threshold is not None:
        options = replace(options, spoken_threshold=spoken_threshold)
    if paraphrase_threshold is not None:
        options = replace(options, paraphrase_threshold=paraphrase_threshold)
    try:
        options.validate()
    except MediaprocError as exc:
        raise click.UsageError(str(exc)) from None
    art, tr = load_article(article), load_transcript(transcript_json)
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
@click.option("--prepare", is_flag=True, help="Convert the bundled tiny.en weights now (setup does this).")
@json_option
@click.pass_context
def models(ctx: click.Context, prepare: bool, as_json: bool) -> None:
    """List the Whisper models available offline and where they are."""
    from .models import list_models, prepare_default_model
    if prepare:
        path = prepare_default_model()
        if not ctx.obj["quiet"]:
            click.echo(f"bundled model ready: {path}")
        return
    found = list_models()
    if as_json:
        _echo_json(found)
        return
    for m in found:
        where = m.get("checkpoint") or m.get("ct2_dir") or m["source"]
        state = ("default, " if m.get("default") else "") + ("available" if m["available"] else "not available offline")
        click.echo(f"{m['name']:<15} {state:<30} {','.join(m['engines']):<30} {where}")


@cli.command(epilog=_EXIT_HELP)
@out_option
@click.option("--keep-serving", is_flag=True, help="Keep the loopback server up until Ctrl-C.")
@click.pass_context
def demo(ctx: click.Context, out: Path, keep_serving: bool) -> None:
    """Build a small article and a narrated multi-scene MP4 locally (espeak-ng + ffmpeg), serve
    them on 127.0.0.1, run the whole pipeline on the article URL, and print where the
    transcript and report are. Needs no network."""
    from .demo import run_demo
    ctx.exit(run_demo(out, keep_serving=keep_serving, echo=click.echo))


def main() -> None:
    """Console-script entry: usage errors exit 2 (click's default), failures 1."""
    cli(prog_name="mediaproc")


if __name__ == "__main__":
    main()
