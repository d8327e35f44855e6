"""The package's shape: no import cycle (module-level or lazy), a pinned public API, one home per concept."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import mediaproc

PACKAGE = Path(mediaproc.__file__).parent


def _imports() -> dict[str, set[str]]:
    """mediaproc module -> the mediaproc modules it imports anywhere (at the top or inside a function)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        package = name if rel.name == "__init__" else name.rsplit(".", 1)[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package
                for _ in range(max(node.level - 1, 0)):
                    base = base.rsplit(".", 1)[0]
                target = (f"{base}.{node.module}" if node.module else base) if node.level else (node.module or "")
                if not target.startswith("mediaproc"):
                    continue
                for alias in node.names:       # "from . import _fs" imports the module mediaproc._fs
                    sub = f"{target}.{alias.name}"
                    deps.add(sub if (PACKAGE.parent / sub.replace(".", "/")).with_suffix(".py").exists() else target)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("mediaproc")}
        graph[name] = {d for d in deps if d != name and d != "mediaproc"}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                found.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_cycle_anywhere_in_the_package() -> None:
    graph = _imports()
    assert {"mediaproc.schema", "mediaproc.pipeline", "mediaproc.cli"} <= graph.keys()   # the walk sees the package
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_leaf_modules_import_nothing_of_mediaproc_that_imports_them() -> None:
    graph = _imports()
    assert graph["mediaproc.schema"] == set() and graph["mediaproc.errors"] == set()
    assert graph["mediaproc.alignment"] <= {"mediaproc._fs", "mediaproc.errors", "mediaproc.options", "mediaproc.schema",
                                        "mediaproc._text", "mediaproc.quotes", "mediaproc._numbers"}


PUBLIC = [
    "AlignError", "AlignOptions", "Alignment", "Article", "ArticleError", "BatchOptions", "BatchSummary", "Cache",
    "CacheOptions", "Document", "DownloadError", "DownloadOptions", "DownloadResult", "Engines", "KeyframeError",
    "KeyframeOptions", "KeyframeResult", "Keyframe", "LockedError", "Manifest", "MediaError", "MediaInfo", "MediaItem",
    "MediaLink", "MediaprocError", "ModelError", "NoAudio", "OptionsError", "Paragraph", "Pipeline", "RefusedError",
    "RunOptions", "SecurityOptions", "Segment", "Sentence", "SentenceAlignment", "TranscribeError",
    "TranscribeOptions", "Transcript", "UnsafePathError", "Word", "__version__", "align", "download", "download_all",
    "extract_keyframes", "find_links", "load_alignment", "load_article", "load_document", "load_transcript", "process",
    "read_article", "run_batch", "transcribe", "translate", "write_alignment", "write_report", "write_transcript",
    "Quote", "QuoteAlignment", "TextLine", "OnScreen", "OcrOptions", "find_quotes", "read_onscreen", "rebuild_index",
    "search",
]


def test_public_api_is_pinned_and_every_name_resolves() -> None:
    assert sorted(mediaproc.__all__) == sorted(PUBLIC)
    for name in mediaproc.__all__:
        assert getattr(mediaproc, name) is not None, name


def test_stage_functions_are_functions_whatever_was_imported_first() -> None:
    """No public name is also a module name, so importing the pipeline cannot turn a function into a module."""
    code = ("import mediaproc, mediaproc.pipeline, mediaproc.batch, mediaproc.cli; "
            "print(all(callable(getattr(mediaproc, n)) for n in "
            "('transcribe', 'align', 'download', 'translate', 'find_links', 'extract_keyframes', 'write_report')))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() \
        == "True"


def test_import_mediaproc_stays_cheap() -> None:
    """The command line's start must not pay for torch, whisper or yt-dlp it may not need."""
    code = "import sys, mediaproc; print(sorted(m for m in ('torch', 'whisper', 'yt_dlp', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
