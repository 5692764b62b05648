#!/usr/bin/env bash
# Install mmcrossformer into a Python environment that already has PyTorch
# (a cluster or container image with CUDA), keeping that torch. The default
# path, scripts/setup.sh, creates .venv with its own pinned CPU torch.
#
# Usage: bash scripts/setup_existing_torch.sh [--venv DIR] [--wheelhouse DIR]
#                                             [--pin-numpy] [--dry-run]
#   (no --venv)      install into $PYTHON's own environment
#   --venv DIR       create DIR with --system-site-packages from $PYTHON and
#                    install there: torch (and the image's other packages)
#                    stay visible, the image itself is left untouched
#   --wheelhouse DIR offline: every pip call gets --no-index --find-links DIR;
#                    fill DIR on a connected machine with
#                    scripts/fill_wheelhouse.sh (it holds mmcv-2.1.0.tar.gz)
#   --pin-numpy      also install numpy==1.26.4 from the constraints; by
#                    default the environment's numpy stays (the image's
#                    compiled packages, e.g. scipy or opencv, were built
#                    against it, and a venv's older numpy would shadow it)
#   --dry-run        check torch and print every command, run none of them
# Env:   PYTHON=python3      interpreter that has torch (default: python3)
#        MMCF_CACHE=path     built mmcv wheels (default ~/.cache/mmcrossformer)
#        FORCE_CUDA=0|1      build mmcv's CUDA ops (default: 1 when torch is a
#                            CUDA build and an nvcc of the same CUDA major
#                            version is found on PATH or in CUDA_HOME, else 0)
#        TORCH_CUDA_ARCH_LIST  GPU architectures to compile for (default: those
#                            of the visible GPUs, e.g. "9.0" on an H100/H200;
#                            with no GPU visible, torch's own default list)
#        MAX_JOBS=N          parallel compile jobs (default: nproc)
#
# What it keeps from scripts/setup.sh: the pins of requirements/constraints.txt
# for everything except torch / torchvision (pinned to what is installed, so
# pip can never replace them) and numpy (see --pin-numpy); mmcv 2.1.0 built
# from its sdist with MMCV_WITH_OPS=1 and --no-build-isolation against the
# installed torch, the wheel cached in a folder named after torch, its CUDA,
# the python tag, the machine and the GPU architectures, so it is never reused
# against another torch ABI or without the kernels a GPU needs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
CACHE=${MMCF_CACHE:-$HOME/.cache/mmcrossformer}
VENV=
WHEELHOUSE=
PIN_NUMPY=0
DRY=0
while [ $# -gt 0 ]; do
    case $1 in
        --venv) VENV=${2:?--venv needs a folder}; shift 2 ;;
        --wheelhouse) WHEELHOUSE=${2:?--wheelhouse needs a folder}; shift 2 ;;
        --pin-numpy) PIN_NUMPY=1; shift ;;
        --dry-run) DRY=1; shift ;;
        -h|--help) sed -n '2,36p' "$0"; exit 0 ;;
        *) echo "[setup-existing-torch] unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

run() {  # print a command, and run it unless --dry-run
    echo "+ $*"
    [ "$DRY" = 1 ] || "$@"
}

if [ -n "$WHEELHOUSE" ]; then
    [ -d "$WHEELHOUSE" ] || { echo "[setup-existing-torch] no such wheelhouse: $WHEELHOUSE" >&2; exit 2; }
    WHEELHOUSE=$(cd "$WHEELHOUSE" && pwd)
    INDEX=(--no-index --find-links "$WHEELHOUSE")
else
    INDEX=()
fi

if [ -n "$VENV" ]; then
    if [ ! -x "$VENV/bin/python" ]; then
        run "$PYTHON" -m venv --system-site-packages "$VENV"
    fi
    PY=$VENV/bin/python
    [ "$DRY" = 1 ] && [ ! -x "$PY" ] && PY=$PYTHON  # nothing created yet
else
    PY=$PYTHON
fi

# torch must import; report what it was built for and what it sees
torch_info() {
    "$PY" - <<'EOF'
import shutil, sys, torch
cuda = torch.version.cuda
caps = sorted({'%d.%d' % torch.cuda.get_device_capability(i)
               for i in range(torch.cuda.device_count())}) \
    if torch.cuda.is_available() else []
try:
    import torchvision
    tv = torchvision.__version__
except ImportError:
    tv = ''
print(torch.__version__, cuda or 'none', int(torch.cuda.is_available()),
      ';'.join(caps) or '-', tv or '-',
      f'cp{sys.version_info[0]}{sys.version_info[1]}')
if torch.cuda.is_available():
    print('[setup-existing-torch] GPU:', torch.cuda.get_device_name(0),
          file=sys.stderr)
EOF
}
if ! INFO=$(torch_info); then
    echo "[setup-existing-torch] torch does not import with $PY: install the" \
        "PyTorch you want first (or use scripts/setup.sh for a CPU .venv)" >&2
    exit 1
fi
read -r TORCH_VERSION TORCH_CUDA CUDA_OK GPU_CAPS TV_VERSION PYTAG <<<"$INFO"
echo "[setup-existing-torch] python $($PY -c 'import sys; print(sys.version.split()[0])')" \
    "($PY), torch $TORCH_VERSION, built for CUDA $TORCH_CUDA," \
    "GPU visible: $([ "$CUDA_OK" = 1 ] && echo "yes (compute capability $GPU_CAPS)" || echo no)"

NVCC=$(command -v nvcc || true)
[ -z "$NVCC" ] && [ -n "${CUDA_HOME:-}" ] && [ -x "$CUDA_HOME/bin/nvcc" ] && NVCC=$CUDA_HOME/bin/nvcc
NVCC_VERSION=
[ -n "$NVCC" ] && NVCC_VERSION=$("$NVCC" --version | grep -o 'release [0-9.]*' | cut -d' ' -f2 || true)
# torch's extension builder refuses an nvcc of another CUDA major version
SAME_MAJOR=0
[ -n "$NVCC_VERSION" ] && [ "$TORCH_CUDA" != none ] \
    && [ "${NVCC_VERSION%%.*}" = "${TORCH_CUDA%%.*}" ] && SAME_MAJOR=1
if [ -z "${FORCE_CUDA:-}" ]; then
    FORCE_CUDA=$SAME_MAJOR
    if [ "$TORCH_CUDA" != none ] && [ -n "$NVCC" ] && [ "$SAME_MAJOR" = 0 ]; then
        echo "[setup-existing-torch] WARNING: nvcc $NVCC ($NVCC_VERSION) does not match" \
            "torch's CUDA $TORCH_CUDA; set CUDA_HOME / PATH to a CUDA ${TORCH_CUDA%%.*}.x toolkit" \
            "for mmcv's CUDA ops" >&2
    fi
fi
if [ "$FORCE_CUDA" = 1 ]; then
    [ -n "$NVCC" ] || { echo "[setup-existing-torch] FORCE_CUDA=1 but nvcc is not found (PATH, CUDA_HOME)" >&2; exit 1; }
    [ "$SAME_MAJOR" = 1 ] || { echo "[setup-existing-torch] FORCE_CUDA=1 but nvcc ($NVCC_VERSION) is not of torch's CUDA major version ($TORCH_CUDA)" >&2; exit 1; }
    echo "[setup-existing-torch] nvcc: $NVCC (release $NVCC_VERSION)"
    if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ] && [ "$GPU_CAPS" != - ]; then
        TORCH_CUDA_ARCH_LIST=$GPU_CAPS
    fi
    ARCH_TAG=sm$(echo "${TORCH_CUDA_ARCH_LIST:-default}" | tr -c 'A-Za-z0-9\n' '_')
    CUDA_TAG=cu${TORCH_CUDA//./}
elif [ "$TORCH_CUDA" != none ]; then
    echo "[setup-existing-torch] WARNING: torch is a CUDA build but no matching nvcc:" \
        "mmcv is built with CPU ops only (mmdet's CUDA training needs its CUDA ops)" >&2
    ARCH_TAG=cpuops
    CUDA_TAG=cu${TORCH_CUDA//./}
else
    ARCH_TAG=cpuops
    CUDA_TAG=cpu
fi

# constraints: the project's pins, with torch / torchvision pinned to the
# installed ones and numpy left to the environment unless --pin-numpy
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
CONSTRAINTS=$WORK/constraints.txt
grep -v -E '^(torch|torchvision)==' requirements/constraints.txt \
    | { if [ "$PIN_NUMPY" = 1 ]; then cat; else grep -v -E '^numpy=='; fi; } >"$CONSTRAINTS"
echo "torch==$TORCH_VERSION" >>"$CONSTRAINTS"
[ "$TV_VERSION" != - ] && echo "torchvision==$TV_VERSION" >>"$CONSTRAINTS"
PIP=("$PY" -m pip --disable-pip-version-check)

echo "[setup-existing-torch] build tools"
run "${PIP[@]}" install -q "${INDEX[@]}" -c "$CONSTRAINTS" "setuptools<81" wheel ninja packaging
if [ "$TV_VERSION" = - ]; then
    # mmpretrain imports torchvision; the resolver picks the release made
    # for the pinned torch
    echo "[setup-existing-torch] torchvision is missing: installing the one for torch $TORCH_VERSION"
    run "${PIP[@]}" install -q "${INDEX[@]}" -c "$CONSTRAINTS" torchvision
fi

MMCV_DIR=$CACHE/mmcv-2.1.0-torch-${TORCH_VERSION//+/_}-$CUDA_TAG-$ARCH_TAG-$PYTAG-$(uname -m)
WANT_CUDA_OPS=$FORCE_CUDA
if "$PY" - "$WANT_CUDA_OPS" 2>/dev/null <<'EOF'
import sys
import mmcv
from mmcv.ops import get_compiling_cuda_version
cuda_ops = get_compiling_cuda_version() != 'not available'
sys.exit(mmcv.__version__ != '2.1.0' or (sys.argv[1] == '1' and not cuda_ops))
EOF
then
    echo "[setup-existing-torch] mmcv 2.1.0 with the ops wanted already installed"
else
    if ! ls "$MMCV_DIR"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
        OPS=CPU
        [ "$FORCE_CUDA" = 1 ] && OPS="CPU + CUDA, architectures ${TORCH_CUDA_ARCH_LIST:-of the torch default list}"
        echo "[setup-existing-torch] building mmcv 2.1.0 (ops: $OPS) against torch" \
            "$TORCH_VERSION; CUDA kernels take a while (MAX_JOBS=${MAX_JOBS:-$(nproc)})"
        run mkdir -p "$MMCV_DIR"
        # mmcv's setup.py imports these at build time
        run "${PIP[@]}" install -q "${INDEX[@]}" -c "$CONSTRAINTS" mmengine
        BUILD_ENV=(MMCV_WITH_OPS=1 FORCE_CUDA="$FORCE_CUDA" MAX_JOBS="${MAX_JOBS:-$(nproc)}")
        [ -n "${TORCH_CUDA_ARCH_LIST:-}" ] && BUILD_ENV+=("TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST")
        run env "${BUILD_ENV[@]}" "${PIP[@]}" wheel --no-cache-dir --no-build-isolation --no-deps --no-binary mmcv \
            "${INDEX[@]}" -c "$CONSTRAINTS" -w "$MMCV_DIR.tmp" mmcv==2.1.0
        run sh -c "mv '$MMCV_DIR.tmp'/mmcv-2.1.0-*.whl '$MMCV_DIR'/ && rm -rf '$MMCV_DIR.tmp'"
    fi
    run sh -c "'$PY' -m pip --disable-pip-version-check install -q --no-deps --force-reinstall '$MMCV_DIR'/mmcv-2.1.0-*.whl"
fi

echo "[setup-existing-torch] OpenMMLab stack, test tools and mmcrossformer (editable)"
run "${PIP[@]}" install -q "${INDEX[@]}" -c "$CONSTRAINTS" \
    -r requirements/runtime.txt -r requirements/tests.txt
run "${PIP[@]}" install -q "${INDEX[@]}" -c "$CONSTRAINTS" --no-build-isolation -e .
# mim's .mim folder, as scripts/setup.sh explains
SITE=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
[ -e "$SITE/mmcrossformer" ] || run ln -s "$ROOT/mmcrossformer" "$SITE/mmcrossformer"

[ "$DRY" = 1 ] && { echo "[setup-existing-torch] dry run: nothing was changed"; exit 0; }
"$PY" - "$WANT_CUDA_OPS" <<'EOF'
import sys
import torch
import mmcv, mmcv.ops, mmdet, mmseg, mmpretrain, mmcrossformer  # noqa
from mmcv.ops import get_compiling_cuda_version, nms
built = get_compiling_cuda_version()
print(f'[setup-existing-torch] import check ok: torch {torch.__version__} '
      f'(CUDA {torch.version.cuda}), mmcv {mmcv.__version__} (ops built for '
      f'CUDA: {built})')
if sys.argv[1] == '1' and built == 'not available':
    sys.exit('[setup-existing-torch] mmcv has no CUDA ops')
if torch.cuda.is_available() and built != 'not available':
    boxes = torch.tensor([[0., 0, 10, 10], [1, 1, 11, 11]], device='cuda')
    keep = nms(boxes, torch.tensor([0.9, 0.8], device='cuda'), 0.5)[1]
    assert keep.tolist() == [0], keep
    print('[setup-existing-torch] mmcv CUDA op (nms) ran on',
          torch.cuda.get_device_name())
EOF
echo "[setup-existing-torch] done; run the CUDA lane with: $PY -m pytest tests -m cuda"
