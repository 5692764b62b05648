#!/usr/bin/env bash
# Fill a folder with what scripts/setup_existing_torch.sh --wheelhouse DIR
# installs, on a machine with network access, for a target machine without
# it (another Python version or platform is fine: nothing is installed here).
#
# Usage: bash scripts/fill_wheelhouse.sh DIR [--python-version 3.12]
#            [--platform manylinux_2_28_x86_64 ...] [--torchvision VERSION]
#            [--pin-numpy]
#   DIR               the wheelhouse (created; existing files are kept)
#   --python-version  the target's Python (default: this python3's)
#   --platform TAG    a target platform tag; repeat for several. Default: the
#                     manylinux tags of an x86-64 glibc 2.28+ machine
#   --torchvision V   also fetch torchvision==V (no dependencies), for a
#                     target whose torch comes without it
#   --pin-numpy       fetch the pinned numpy==1.26.4 (see setup_existing_torch.sh)
# Env:   PYTHON=python3  the pip used for downloading; it must import torch
#                        and setuptools (pip runs mmcv's setup.py, which
#                        imports torch, to read the sdist), e.g.
#                        PYTHON=.venv/bin/python after scripts/setup.sh
#
# It downloads, for the target: binary wheels of the OpenMMLab stack and the
# test tools with all their dependencies (pinned by requirements/constraints.txt,
# torch and torchvision left out), the build tools (setuptools<81, wheel, ninja,
# packaging), and the source distribution of mmcv 2.1.0 (built on the target
# against its torch). timm needs torch: it is fetched without dependencies,
# and its other dependencies separately. Then copy DIR to the target and run
# `bash scripts/setup_existing_torch.sh --wheelhouse DIR [--venv DIR2]`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
DIR=
PYVER=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
PLATFORMS=()
TORCHVISION=
PIN_NUMPY=0
while [ $# -gt 0 ]; do
    case $1 in
        --python-version) PYVER=${2:?}; shift 2 ;;
        --platform) PLATFORMS+=("${2:?}"); shift 2 ;;
        --torchvision) TORCHVISION=${2:?}; shift 2 ;;
        --pin-numpy) PIN_NUMPY=1; shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        -*) echo "[fill-wheelhouse] unknown argument: $1 (see --help)" >&2; exit 2 ;;
        *) DIR=$1; shift ;;
    esac
done
[ -n "$DIR" ] || { echo "usage: bash scripts/fill_wheelhouse.sh DIR [options] (see --help)" >&2; exit 2; }
if [ ${#PLATFORMS[@]} = 0 ]; then
    PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64
               manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64)
fi
mkdir -p "$DIR"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
CONSTRAINTS=$WORK/constraints.txt
grep -v -E '^(torch|torchvision)==' requirements/constraints.txt \
    | { if [ "$PIN_NUMPY" = 1 ]; then cat; else grep -v -E '^numpy=='; fi; } >"$CONSTRAINTS"
# timm is fetched on its own (it requires torch, which the target has)
grep -v -E '^timm' requirements/tests.txt >"$WORK/tests.txt"
TARGET=(--only-binary=:all: --implementation cp --python-version "$PYVER")
for p in "${PLATFORMS[@]}"; do TARGET+=(--platform "$p"); done
PIP=("$PYTHON" -m pip --disable-pip-version-check download -d "$DIR")

echo "[fill-wheelhouse] wheels for CPython $PYVER on ${PLATFORMS[*]} into $DIR"
"${PIP[@]}" "${TARGET[@]}" -c "$CONSTRAINTS" \
    "setuptools<81" wheel ninja packaging \
    -r requirements/runtime.txt -r "$WORK/tests.txt"
TIMM=$(grep -E '^timm==' requirements/constraints.txt || echo timm)
"${PIP[@]}" "${TARGET[@]}" --no-deps "$TIMM"
"${PIP[@]}" "${TARGET[@]}" -c "$CONSTRAINTS" huggingface_hub safetensors pyyaml
if [ -n "$TORCHVISION" ]; then
    "${PIP[@]}" "${TARGET[@]}" --no-deps "torchvision==$TORCHVISION"
fi
echo "[fill-wheelhouse] mmcv 2.1.0 source distribution"
# pip reads the sdist's metadata by running its setup.py, which imports torch:
# without build isolation, with this python's torch and setuptools
if ! "$PYTHON" -c "import torch, setuptools" 2>/dev/null; then
    echo "[fill-wheelhouse] $PYTHON cannot import torch and setuptools, which" \
        "pip needs to read mmcv's sdist: use e.g. PYTHON=.venv/bin/python" >&2
    exit 1
fi
"${PIP[@]}" --no-binary=:all: --no-deps --no-build-isolation mmcv==2.1.0
if ls "$DIR"/torch-*.whl >/dev/null 2>&1; then
    echo "[fill-wheelhouse] WARNING: a torch wheel was fetched (a dependency asked" \
        "for it); the target keeps its own torch, delete $DIR/torch-*.whl" >&2
fi
echo "[fill-wheelhouse] $(ls "$DIR" | wc -l) files, $(du -sh "$DIR" | cut -f1);" \
    "on the target: bash scripts/setup_existing_torch.sh --wheelhouse $DIR"
