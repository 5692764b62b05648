#!/usr/bin/env bash
# Create ./.venv and install the whole pinned stack plus this package (editable).
#
# Usage: bash scripts/setup.sh            (idempotent: a second run takes seconds)
#        STACK=onedl bash scripts/setup.sh   the maintained OneDL forks instead
# Env:   STACK=openmmlab|onedl  which OpenMMLab stack (default: openmmlab, the
#                            upstream packages pinned in constraints.txt;
#                            onedl: the forks pinned in constraints-onedl.txt)
#        VENV=path           virtual environment to use (default: .venv, or
#                            .venv-onedl for STACK=onedl)
#        MMCF_CACHE=path     where built mmcv wheels are kept (default: ~/.cache/mmcrossformer)
#        PYTHON=python3.11   interpreter used to create the venv
#
# mmcv 2.1.0 only ships as an sdist on PyPI; it is compiled here with its CPU
# ops (nms, RoIAlign, sigmoid focal loss, ... needed by mmdet). The built wheel
# is cached in a folder named after the exact torch version, python tag and
# machine, so it is never reused against a different torch ABI. The OneDL
# stack does the same with onedl-mmcv 2.3.6 (also an sdist only).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
STACK=${STACK:-openmmlab}
PYTHON=${PYTHON:-python3}
CACHE=${MMCF_CACHE:-$HOME/.cache/mmcrossformer}
case "$STACK" in
    openmmlab)
        VENV=${VENV:-$ROOT/.venv}
        CONSTRAINTS=$ROOT/requirements/constraints.txt
        RUNTIME=requirements/runtime.txt
        MMCV_DIST=mmcv MMCV_WHEEL=mmcv MMCV_VERSION=2.1.0 MMENGINE_DIST=mmengine ;;
    onedl)
        VENV=${VENV:-$ROOT/.venv-onedl}
        CONSTRAINTS=$ROOT/requirements/constraints-onedl.txt
        RUNTIME=requirements/runtime-onedl.txt
        MMCV_DIST=onedl-mmcv MMCV_WHEEL=onedl_mmcv MMCV_VERSION=2.3.6 MMENGINE_DIST=onedl-mmengine ;;
    *)
        echo "[setup] STACK=$STACK is not a stack; use STACK=openmmlab (default) or STACK=onedl" >&2
        exit 2 ;;
esac
# setup.py picks the requirement names of the stack from this (pip builds
# the editable install without isolation, so it would find the forks too)
export MMCF_STACK=$STACK
STAMP=$VENV/.mmcrossformer-setup

fingerprint() {
    cat requirements/*.txt setup.py scripts/setup.sh | sha256sum | cut -d' ' -f1
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(fingerprint)" ] \
    && "$VENV/bin/python" -c "import mmcv.ops, mmdet, mmseg, mmpretrain, mmcrossformer" 2>/dev/null; then
    echo "[setup] $VENV is up to date (delete $STAMP to force a reinstall)"
    exit 0
fi

t0=$(date +%s)
# step "what": print the step's name; the previous step's time is printed
# when the next one starts (step "" closes the last one)
STEP_NAME=""
STEP_T=$t0
step() {
    local now
    now=$(date +%s)
    [ -z "$STEP_NAME" ] || echo "[setup]   ... $STEP_NAME: $(( now - STEP_T )) s"
    STEP_NAME=$1
    STEP_T=$now
    [ -z "$1" ] || echo "[setup] $1"
}

step "virtual environment $VENV"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PY=$VENV/bin/python
PIP="$PY -m pip --disable-pip-version-check"

step "build tools + torch (pinned in $CONSTRAINTS)"
$PIP install -q -c "$CONSTRAINTS" "setuptools<81" wheel ninja
$PIP install -q -c "$CONSTRAINTS" torch torchvision

TORCH_VERSION=$($PY -c "import torch; print(torch.__version__)")
PYTAG=$($PY -c "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')")
MMCV_DIR=$CACHE/$MMCV_DIST-$MMCV_VERSION-torch-${TORCH_VERSION//+/_}-$PYTAG-$(uname -m)
# the upstream folder keeps its old name (mmcv-2.1.0-torch-...), so caches
# filled before the OneDL option still serve

step "$MMCV_DIST $MMCV_VERSION with its ops"
if $PY -c "import importlib.metadata as m, mmcv, mmcv.ops, sys; sys.exit(m.version('$MMCV_DIST') != '$MMCV_VERSION')" 2>/dev/null; then
    echo "[setup] $MMCV_DIST $MMCV_VERSION with ops already installed"
else
    if ! ls "$MMCV_DIR"/$MMCV_WHEEL-$MMCV_VERSION-*.whl >/dev/null 2>&1; then
        echo "[setup] building $MMCV_DIST $MMCV_VERSION with CPU ops against torch $TORCH_VERSION (several minutes)"
        mkdir -p "$MMCV_DIR"
        # mmcv's setup.py imports these at build time
        $PIP install -q -c "$CONSTRAINTS" $MMENGINE_DIST packaging
        MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} $PIP wheel --no-cache-dir \
            --no-build-isolation --no-deps -c "$CONSTRAINTS" -w "$MMCV_DIR.tmp" $MMCV_DIST==$MMCV_VERSION
        mv "$MMCV_DIR.tmp"/$MMCV_WHEEL-$MMCV_VERSION-*.whl "$MMCV_DIR"/ && rm -rf "$MMCV_DIR.tmp"
    fi
    $PIP install -q --no-deps --force-reinstall "$MMCV_DIR"/$MMCV_WHEEL-$MMCV_VERSION-*.whl
fi

step "OpenMMLab stack, test tools and mmcrossformer (editable)"
$PIP install -q -c "$CONSTRAINTS" -r $RUNTIME -r requirements/tests.txt
$PIP install -q -c "$CONSTRAINTS" --no-build-isolation -e .

step "mmdeploy 1.3.1 (requirements/deploy.txt; without its protobuf<=3.20.2 pin)"
$PIP install -q -c "$CONSTRAINTS" --no-deps mmdeploy
grep -v '^mmdeploy' requirements/deploy.txt | $PIP install -q -c "$CONSTRAINTS" -r /dev/stdin
# mim 0.3.9 looks for <site-packages>/mmcrossformer/.mim/{configs,tools};
# PEP 660 editable installs (the only kind setuptools >= 80 makes) put no
# package folder there, so link the checkout's package in for `mim train`.
SITE=$($PY -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
[ -e "$SITE/mmcrossformer" ] || ln -s "$ROOT/mmcrossformer" "$SITE/mmcrossformer"

step "import check"
$PY -c "import mmcv.ops, mmdet, mmseg, mmpretrain, mmcrossformer; print('[setup] import check ok: torch', __import__('torch').__version__, 'mmcv', mmcv.__version__)"
step ""
fingerprint > "$STAMP"
echo "[setup] done in $(( $(date +%s) - t0 )) s; activate with: source $VENV/bin/activate"
