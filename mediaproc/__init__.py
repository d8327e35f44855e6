"""mediaproc: find, download, keyframe, transcribe and align the videos in news articles.

The public API is what this module exports (``__all__``, pinned by a test); everything
else is private and may change. Each pipeline stage can be called on its own::

    import mediaproc
    article = mediaproc.read_article("saved/story.html")
    links = mediaproc.find_links(mediaproc.load_document("saved/story.html"), article)
    media = mediaproc.download(links[0].url, cache=mediaproc.Cache.at())
    engine = mediaproc.Engines().get(mediaproc.TranscribeOptions())
    transcript = mediaproc.transcribe(engine, media.path)
    alignment = mediaproc.align(article, transcript)

:class:`Pipeline` runs them all for one article, :func:`run_batch` for many. Names are
imported on first use, so ``import mediaproc`` stays cheap (the command line starts fast).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_EXPORTS = {
    # errors
    **dict.fromkeys(["MediaprocError", "OptionsError", "ArticleError", "RefusedError", "DownloadError", "MediaError",
                     "KeyframeError", "TranscribeError", "NoAudio", "ModelError", "AlignError", "LockedError",
                     "UnsafePathError"], "errors"),
    # data between stages
    **dict.fromkeys(["Document", "Article", "Paragraph", "Sentence", "MediaLink", "MediaInfo", "DownloadResult",
                     "Word", "Segment", "Transcript", "Keyframe", "KeyframeResult", "Alignment", "SentenceAlignment",
                     "Quote", "QuoteAlignment", "TextLine", "OnScreen", "Manifest", "MediaItem", "BatchSummary"],
                    "schema"),
    # options
    **dict.fromkeys(["RunOptions", "DownloadOptions", "KeyframeOptions", "TranscribeOptions", "AlignOptions",
                     "SecurityOptions", "CacheOptions", "OcrOptions"], "options"),
    # stages
    "load_document": "article", "read_article": "article", "load_article": "article",
    "find_links": "links", "download": "downloads", "download_all": "downloads",
    "extract_keyframes": "keyframes", "transcribe": "transcription", "translate": "transcription",
    "write_transcript": "transcription", "load_transcript": "transcription",
    "align": "alignment", "write_alignment": "alignment", "load_alignment": "alignment",
    "find_quotes": "quotes", "read_onscreen": "onscreen",
    "write_report": "report", "Engines": "engines", "Cache": "_layout",
    "rebuild_index": "archive", "search": "archive",
    # wiring
    "Pipeline": "pipeline", "process": "pipeline", "run_batch": "batch", "BatchOptions": "batch",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mediaproc' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
