#!/usr/bin/env bash
# Data-parallel training (torchrun; gloo on CPU, nccl on GPU): bash tools/dist_train.sh CONFIG NPROC [ARGS...]
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
DIR=$(cd "$(dirname "$0")" && pwd)
PYTHONPATH="$DIR/..":${PYTHONPATH:-} \
${PYTHON:-python} -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$DIR/train.py" "$CONFIG" --launcher pytorch "${@:3}"
