"""The benchmark tools on CUDA: timing that waits for the GPU, the peak of
allocated memory, the command line with ``--amp`` and ``--no-tf32``."""
import torch
from cuda_utils import CUDA_MARKS

from mmcrossformer.testing import CONFIGS, run_tool
from mmcrossformer.utils import benchmark as helpers

pytestmark = CUDA_MARKS

DEMO = CONFIGS + '/retinanet_crossformerpp_s_coco_demo.py'


def test_timing_measures_gpu_time():
    """A kernel that spins the GPU for a fixed number of cycles: its time
    grows with the cycles, although launching it takes microseconds on the
    host (a host timer without synchronisation would see the launch)."""
    short = helpers.measure(lambda: torch.cuda._sleep(1_000_000), 1, 5)
    long = helpers.measure(lambda: torch.cuda._sleep(10_000_000), 1, 5)
    assert all(t > 0 for t in short.times + long.times)
    ratio = long.median / short.median
    assert 5 < ratio < 15, (short.times, long.times)


def test_peak_memory_on_cuda():
    dev = torch.device('cuda')
    keep = torch.empty(64 * 2**20, dtype=torch.uint8, device=dev)
    with helpers.PeakMemory(dev) as peak:
        block = torch.empty(256 * 2**20, dtype=torch.uint8, device=dev)
        del block
    # not counting `keep`; mmengine's get_max_cuda_memory reads whole MiB
    assert 255 * 2**20 <= peak.value < 300 * 2**20
    del keep


def test_command_line_on_cuda_with_amp_and_full_fp32():
    out = run_tool('analysis_tools/benchmark.py', DEMO, '--device', 'cuda',
                   '--shape', '256', '320', '--batch', '2', '--warmup', '2',
                   '--repeat', '5', '--amp', '--no-tf32')
    rows = [line for line in out.splitlines()
            if line.startswith('retinanet_crossformerpp_s_coco_demo')]
    assert len(rows) == 4, out  # 2 parts x 2 passes
    for row in rows:  # columns: name part pass img/s ratio peak ...
        peak = row.split()[5]
        assert peak.isdigit() and int(peak) > 0, row
    assert 'Times are in milliseconds' in out  # torch's Compare table
    assert 'autocast float16, TF32 matmul off / conv off' in out
    assert torch.cuda.get_device_name() in out
