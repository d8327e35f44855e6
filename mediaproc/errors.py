"""Every error mediaproc raises on purpose, in one place.

Each carries a one-line message meant for the user: the command line prints it as
``error: <message>`` (or records it in the manifest) and never shows a traceback for
it. Anything else that escapes is a bug, and a batch records it as
``unexpected error`` for that article and goes on::

    MediaprocError
    ├── OptionsError        an option value is out of range or unknown
    ├── ArticleError        the source cannot be read as an article
    ├── RefusedError        the security policy refuses a link (local file, private host)
    ├── DownloadError       a link could not be turned into a valid media file
    ├── MediaError          ffprobe/ffmpeg found no playable stream, or could not decode
    ├── KeyframeError       no video frame decoded
    ├── TranscribeError     audio could not be transcribed
    │   └── NoAudio         the media has no audio stream (the item is ``partial``)
    ├── ModelError          a Whisper model could not be found, read or converted
    ├── AlignError          an alignment file cannot be read back
    ├── LockedError         another process is writing the same output directory
    └── UnsafePathError     mediaproc refused to delete or overwrite outside its own folders
"""

from __future__ import annotations

__all__ = ["MediaprocError", "OptionsError", "ArticleError", "RefusedError", "DownloadError", "MediaError",
           "KeyframeError", "TranscribeError", "NoAudio", "ModelError", "AlignError", "LockedError",
           "UnsafePathError"]


class MediaprocError(Exception):
    """An expected failure with a one-line message meant for the user (no traceback)."""


class OptionsError(MediaprocError):
    """An option value is out of range, of the wrong kind, or not one of its choices."""


class ArticleError(MediaprocError):
    """The source cannot be read as an article (missing, binary, empty, too large, unreachable)."""


class RefusedError(MediaprocError):
    """The security policy refuses to follow a link (see the README's Security section)."""


class DownloadError(MediaprocError):
    """A link could not be turned into a valid media file (one line: URL, what was received, why)."""


class MediaError(MediaprocError):
    """ffprobe found no playable audio or video stream, or ffmpeg could not decode it."""


class KeyframeError(MediaprocError):
    """Invalid options, or ffmpeg decoded no video frame at all."""


class TranscribeError(MediaprocError):
    """Audio could not be decoded, or a transcript file is unreadable."""


class NoAudio(TranscribeError):
    """The media has no audio stream: the pipeline records the item as partial with this reason."""


class ModelError(MediaprocError):
    """A model could not be found, read or converted."""


class AlignError(MediaprocError):
    """An alignment file cannot be read back."""


class LockedError(MediaprocError):
    """Another mediaproc process is writing the same output directory."""


class UnsafePathError(MediaprocError):
    """A removal or overwrite outside the directories mediaproc made itself was refused."""
