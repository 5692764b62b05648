"""The benchmark tools on CUDA: event timing, max-allocated memory, the
command line with ``--amp`` and ``--no-tf32``."""
import os.path as osp
import sys

import torch

from conftest import CONFIGS, TOOLS, run_tool
from cuda_utils import CUDA_MARKS

pytestmark = CUDA_MARKS

sys.path.insert(0, osp.join(TOOLS, 'analysis_tools'))
import benchmark as tool  # noqa: E402

DEMO = osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco_demo.py')


def test_event_timing_measures_gpu_time():
    """A kernel that spins the GPU for a fixed number of cycles: its time
    grows with the cycles, although launching it takes microseconds on the
    host (a host timer without synchronisation would see the launch)."""
    dev = torch.device('cuda')
    short = tool.time_call(lambda: torch.cuda._sleep(1_000_000), 1, 5, dev)
    long = tool.time_call(lambda: torch.cuda._sleep(10_000_000), 1, 5, dev)
    assert all(t > 0 for t in short + long)
    ratio = tool.quartiles(long)[1] / tool.quartiles(short)[1]
    assert 5 < ratio < 15, (short, long)


def test_peak_memory_on_cuda():
    dev = torch.device('cuda')
    keep = torch.empty(64 * 2**20, dtype=torch.uint8, device=dev)
    with tool.PeakMemory(dev) as peak:
        block = torch.empty(256 * 2**20, dtype=torch.uint8, device=dev)
        del block
    assert 256 * 2**20 <= peak.value < 300 * 2**20  # not counting `keep`
    del keep


def test_command_line_on_cuda_with_amp_and_full_fp32():
    out = run_tool('analysis_tools/benchmark.py', DEMO, '--device', 'cuda',
                   '--shape', '256', '320', '--batch', '2', '--warmup', '2',
                   '--repeat', '5', '--amp', '--no-tf32')
    rows = [line for line in out.splitlines()
            if line.startswith('retinanet_crossformerpp_s_coco_demo')]
    assert len(rows) == 4, out  # 2 parts x 2 passes
    for row in rows:  # columns: name part pass median IQR img/s ratio peak
        peak = row.split()[7]
        assert peak.isdigit() and int(peak) > 0, row
    assert 'autocast float16, TF32 matmul off / conv off' in out
    assert torch.cuda.get_device_name() in out
