"""What a URL is: a media file (and of which type), a stream, or a video platform's player page.

The one leaf module that knows media extensions, content types and platform URL shapes, for
the article reader, the link finder and the downloader alike.
"""

from __future__ import annotations

import re
import urllib.parse

VIDEO_EXTENSIONS = ("mp4", "m4v", "mov", "webm", "mkv", "ogv", "avi", "mpg", "mpeg", "ts")
AUDIO_EXTENSIONS = ("mp3", "m4a", "aac", "ogg", "oga", "opus", "wav", "flac")
STREAM_EXTENSIONS = ("m3u8", "mpd")
EXTENSION = re.compile(r"\.([a-z0-9]{2,5})$", re.I)
_PLATFORMS = [(name, re.compile(pattern, re.I)) for name, pattern in [
    ("youtube", r"^(?:www\.|m\.)?youtube(?:-nocookie)?\.com/(?:embed/|v/|watch\b|shorts/|live/)|^youtu\.be/"),
    ("vimeo", r"^player\.vimeo\.com/video/\d|^(?:www\.)?vimeo\.com/\d"),
    ("dailymotion", r"^(?:www\.)?dailymotion\.com/(?:embed/)?video/|^dai\.ly/|^geo\.dailymotion\.com/player"),
    ("twitch", r"^(?:clips|player)\.twitch\.tv/|^(?:www\.)?twitch\.tv/(?:videos/|\w+/clip/)"),
    ("rumble", r"^(?:www\.)?rumble\.com/embed/"),
    ("facebook", r"^(?:www\.)?facebook\.com/(?:plugins/video\.php|[^/]+/videos/|watch)"),
    ("bitchute", r"^(?:www\.)?bitchute\.com/(?:embed|video)/"),
    ("odysee", r"^odysee\.com/\$/embed/"),
    ("streamable", r"^streamable\.com/(?:e|o)/"),
    ("tiktok", r"^(?:www\.)?tiktok\.com/embed"),
    ("vk", r"^vk\.com/video_ext\.php"),
    ("okru", r"^ok\.ru/videoembed/"),
    ("brightcove", r"^players\.brightcove\.net/"),
    ("jwplayer", r"^(?:cdn|content)\.jwplayer\.com/players/"),
    ("soundcloud", r"^w\.soundcloud\.com/player"),
    ("kaltura", r"^(?:cdnapi(?:sec)?\.|www\.)?kaltura\.com/(?:p/\d+/.*entry_?id/|index\.php/(?:kwidget|extwidget)/|"
                r"html5/html5lib/)"),
    ("foxnews", r"^video\.fox(?:news|business)\.com/v/(?:video-embed\.html\?video_id=)?\d"),
    ("spotify", r"^open\.spotify\.com/(?:embed/)?(?:episode|show|track)/"),
    ("apple", r"^embed\.(?:music|podcasts)\.apple\.com/"),
    ("peertube", r"^[^/]+/videos/embed/"),
]]
_MEDIA_TYPES = re.compile(r"(?i)^\s*(?:video/|audio/|application/(?:vnd\.apple\.mpegurl|x-mpegurl|dash\+xml))")


def media_kind(url: str) -> tuple[str, str | None] | None:
    """("file"|"stream", "video"|"audio"|None) when the URL's path ends in a media extension, else None."""
    path = urllib.parse.urlsplit(url.strip()).path if "://" in url or url.startswith("//") else url.split("?")[0]
    match = EXTENSION.search(path.rstrip("/"))
    ext = match.group(1).lower() if match else ""
    if ext in STREAM_EXTENSIONS:
        return "stream", None
    if ext in VIDEO_EXTENSIONS:
        return "file", "video"
    if ext in AUDIO_EXTENSIONS:
        return "file", "audio"
    return None


def is_media_content_type(ctype: str) -> bool:
    """True for video/*, audio/*, HLS and DASH content types."""
    return bool(_MEDIA_TYPES.match(ctype or ""))


def platform_of(url: str) -> str | None:
    """The video platform whose player page ``url`` is ("youtube", "vimeo", ...), else None."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https", ""):
        return None
    hostpath = (parts.netloc + parts.path).lower()
    return next((name for name, pattern in _PLATFORMS if pattern.search(hostpath)), None)


__all__ = ["EXTENSION", "VIDEO_EXTENSIONS", "AUDIO_EXTENSIONS", "STREAM_EXTENSIONS", "media_kind", "is_media_content_type",
           "platform_of"]
