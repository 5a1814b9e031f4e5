#!/usr/bin/env bash
# Set up everything cadenza needs on a fresh Debian machine, reusing what is already there:
#   - Debian packages: libasound2-dev (audio, MIDI ports), a GM SoundFont (timgm6mb-soundfont),
#     chromium (the studio's browser test), jackd2 and libjack-jackd2-dev (JACK MIDI ports; the
#     `jack` crate's build wants libjack's pkg-config file, its tests a dummy JACK server)
#   - libtorch: the PyPI wheel torch==2.11.0 (CUDA 13 build) in a venv under
#     ~/.cache/cadenza/torch-2.11.0, linked as ./.libtorch (see .cargo/config.toml)
#   - Python tools for corpora, checks and benchmarks in ~/.cache/cadenza/venv, linked as ./.pyenv,
#     which also imports torch (from the venv above, through a .pth file: no second copy) and
#     cadenza's own Python package (python/, built with maturin, no libtorch)
#   - the corpora (scripts/build_corpora.py) unless CADENZA_SKIP_CORPORA is set
# Usage: scripts/setup.sh [--corpora bach|all|none]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${CADENZA_CACHE:-$HOME/.cache/cadenza}
TORCH_VERSION=2.11.0
TORCH_ENV=$CACHE/torch-$TORCH_VERSION
TOOLS_ENV=$CACHE/venv
CORPORA=${1:-}
[ "$CORPORA" = "--corpora" ] && CORPORA=${2:-all} || CORPORA=all
PYTHON=${PYTHON:-python3}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# --- Debian packages ---------------------------------------------------------------------------
need_apt=()
dpkg -s libasound2-dev >/dev/null 2>&1 || need_apt+=(libasound2-dev)
dpkg -s pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
dpkg -s timgm6mb-soundfont >/dev/null 2>&1 || need_apt+=(timgm6mb-soundfont)
command -v chromium >/dev/null 2>&1 || dpkg -s chromium >/dev/null 2>&1 || need_apt+=(chromium)
dpkg -s jackd2 >/dev/null 2>&1 || need_apt+=(jackd2)
dpkg -s libjack-jackd2-dev >/dev/null 2>&1 || need_apt+=(libjack-jackd2-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
    say "installing Debian packages: ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq || true
    $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# --- libtorch from the PyPI wheel -------------------------------------------------------------
if [ ! -f "$TORCH_ENV/.complete" ]; then
    say "installing torch==$TORCH_VERSION into $TORCH_ENV (once; about 5 GB with its CUDA libraries)"
    rm -rf "$TORCH_ENV"
    "$PYTHON" -m venv "$TORCH_ENV"
    "$TORCH_ENV/bin/pip" install -q --disable-pip-version-check "torch==$TORCH_VERSION" numpy
    touch "$TORCH_ENV/.complete"
fi
TORCH_DIR=$("$TORCH_ENV/bin/python" -c 'import torch, os; print(os.path.dirname(torch.__file__))')
ln -sfn "$(dirname "$TORCH_DIR")" "$ROOT/.libtorch"   # .libtorch/torch/{lib,include}

# --- Python tools ------------------------------------------------------------------------------
TOOLS="music21==10.5.1 mido==1.3.3 pretty-midi==0.2.11.post0 miditok==3.1.0 symusic==0.6.0 hmmlearn==0.3.3 scikit-learn==1.9.1 numpy maturin==1.15.0 pytest==8.4.2"
STAMP="$TOOLS_ENV/.complete-$(echo "$TOOLS" | md5sum | cut -c1-8)"
if [ ! -f "$STAMP" ]; then
    say "installing Python tools into $TOOLS_ENV"
    [ -x "$TOOLS_ENV/bin/python" ] || "$PYTHON" -m venv "$TOOLS_ENV"
    # shellcheck disable=SC2086
    "$TOOLS_ENV/bin/pip" install -q --disable-pip-version-check $TOOLS
    touch "$STAMP"
fi
ln -sfn "$TOOLS_ENV" "$ROOT/.pyenv"

# --- the Python package: torch visible from .pyenv, then `import cadenza` ---------------------
SITE=$("$TOOLS_ENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
dirname "$TORCH_DIR" > "$SITE/cadenza-torch.pth"
if [ -z "${CADENZA_SKIP_PYTHON_PACKAGE:-}" ]; then
    say "building the Python package (python/) into .pyenv"
    PATH="$TOOLS_ENV/bin:$PATH" "$TOOLS_ENV/bin/pip" install -q --disable-pip-version-check \
        --no-build-isolation --no-deps "$ROOT/python"
fi

# --- corpora ----------------------------------------------------------------------------------
if [ -z "${CADENZA_SKIP_CORPORA:-}" ] && [ "$CORPORA" != none ]; then
    "$ROOT/.pyenv/bin/python" "$ROOT/scripts/build_corpora.py" --which "$CORPORA" --out "$ROOT/corpora"
fi
say "setup done"
