"""mediaproc: find, download, keyframe, transcribe and align the videos in news articles.

Each pipeline stage is a module with a small public function that can be called on
its own: :mod:`article`, :mod:`links`, :mod:`download`, :mod:`keyframes`,
:mod:`transcribe`, :mod:`align`, :mod:`report`; :mod:`pipeline` and :mod:`batch`
wire them together and :mod:`cli` only parses arguments.
"""

__version__ = "0.1.0"
