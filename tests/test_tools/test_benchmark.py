"""tools/analysis_tools/benchmark.py, benchmark_official.py, their
libraries mmcrossformer.apis.benchmark / benchmark_official and the
helpers in mmcrossformer.utils.benchmark (smoke tests, no assertions on
model timings)."""
import os.path as osp
import re
import sys

import pytest
import torch

from mmcrossformer.apis import benchmark as tool
from mmcrossformer.apis import benchmark_official as official_tool
from mmcrossformer.apis import build_model
from mmcrossformer.testing import CONFIGS, TOOLS, run_tool
from mmcrossformer.utils import benchmark as helpers

DEMO = osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco_demo.py')


def test_table_from_the_command_line():
    out = run_tool('analysis_tools/benchmark.py', DEMO, '--shape', '64', '96',
                   '--warmup', '0', '--repeat', '2', '--variant',
                   'model.backbone.with_cp=True', '--threads', '1')
    # torch.utils.benchmark.Compare: a table per part, a row per config,
    # a column per pass, in milliseconds
    for part in ('backbone', 'model'):
        assert re.search(rf'\[-+ {part} -+\]', out), out
    assert len(re.findall(r'^ +\| +fwd +\| +fwd\+bwd *$', out, re.M)) == 2
    compared = re.findall(
        r'^ +retinanet_crossformerpp_s_coco_demo( \[with_cp=True\])? +\| '
        r'+[0-9.]+', out, re.M)
    assert len(compared) == 4, out  # 2 rows (config, variant) x 2 parts
    assert 'Times are in milliseconds (ms).' in out
    # the ratio table: 2 rows x 2 parts x 2 passes
    rows = [line for line in out.splitlines()
            if line.startswith('retinanet_crossformerpp_s_coco_demo')]
    assert len(rows) == 8, out
    assert sum('[with_cp=True]' in row for row in rows) == 4
    for row in rows[:4]:  # the first config is the reference: ratio 1.00
        assert re.search(r'\s1\.00\s', row), row
    forward = [row for row in rows if ' fwd ' in row]
    assert all(row.rstrip().endswith('%') for row in forward), forward
    assert 'matmul peak measured in this run' in out
    assert 'input 1 x 3 x 64 x 96' in out
    # the command that reproduces the table, ready to paste
    assert ('command: python tools/analysis_tools/benchmark.py '
            f'{DEMO} --shape 64 96 --warmup 0 --repeat 2 --variant '
            "model.backbone.with_cp=True --threads 1") in out, out


def test_report_contents():
    report = tool.benchmark([(DEMO, None)],
                            shape=(64, 64),
                            batch=2,
                            parts=('backbone', ),
                            passes=('fwd', 'fwd+bwd'),
                            warmup=0,
                            repeat=2,
                            log=lambda msg: None)
    fwd, bwd = report['results']
    assert (fwd['pass_'], bwd['pass_']) == ('fwd', 'fwd+bwd')
    timed = fwd['measurement']
    assert timed.median == fwd['median_s'] > 0 and fwd['iqr_s'] >= 0
    assert (timed.task_spec.label, timed.task_spec.sub_label,
            timed.task_spec.description) == ('backbone',
                                             'retinanet_crossformerpp_s_'
                                             'coco_demo', 'fwd')
    assert fwd['images_per_s'] == pytest.approx(2 / fwd['median_s'])
    # backbone FLOPs of one image, counted as get_flops counts them
    assert fwd['flops'] > 1e7 and bwd['flops'] is None
    assert report['peak_flops'] > 1e8
    assert bwd['peak_bytes'] > 0
    table = tool.format_table(report)
    assert 'GFLOP/s' in table and 'fwd+bwd' in table


GRAPHS = []  # the graphs the counting backend below received
COUNTING_BACKEND = 'mmcf_test_benchmark_counting'


def _counting_backend(gm, example_inputs):
    GRAPHS.append(gm)
    return torch._dynamo.lookup_backend('aot_eager')(gm, example_inputs)


if COUNTING_BACKEND not in torch._dynamo.list_backends(exclude_tags=()):
    torch._dynamo.register_backend(_counting_backend, name=COUNTING_BACKEND)


def test_compile_row_from_the_config():
    """A row whose config sets ``compile`` (as mmengine's Runner reads it,
    here ``--variant compile.backend=...``) is timed through
    ``torch.compile`` with those arguments, its first call (which compiles)
    timed alone; the eager row beside it is not compiled."""
    name = COUNTING_BACKEND
    GRAPHS.clear()
    try:
        report = tool.benchmark(
            [(DEMO, None),
             (DEMO, dict(compile=dict(backend=name)), 'compiled')],
            shape=(64, 96), parts=('backbone', ), passes=('fwd+bwd', ),
            warmup=1, repeat=2, roofline=False, memory_pass=False,
            log=lambda msg: None)
    finally:
        torch._dynamo.reset()
    eager, compiled = report['results']
    assert eager['compiled'] is False and eager['first_call_s'] is None
    assert compiled['compiled'] == dict(backend=name)
    assert len(GRAPHS) == 1  # the whole backbone, one graph, no recompile
    assert compiled['first_call_s'] > compiled['median_s'] > 0
    rows = tool.format_table(report).splitlines()
    assert any('1st call s' in row for row in rows)
    assert [r.split()[0] for r in rows if r.split()[-1:] == [
        f'{compiled["first_call_s"]:.1f}']] == ['compiled']


def test_peak_memory_sees_an_allocation():
    with helpers.PeakMemory(torch.device('cpu')) as peak:
        block = torch.ones(25_000_000)  # 100 MB
        del block
    assert peak.value is not None and peak.value >= 90e6


def test_bad_arguments():
    with pytest.raises(ValueError, match='batch'):
        tool.benchmark([(DEMO, None)], batch=0)
    with pytest.raises(ValueError, match='unknown parts'):
        tool.benchmark([(DEMO, None)], parts=('neck', ))
    with pytest.raises(ValueError, match='repeat'):
        helpers.measure(lambda: None, 0, 0)


def test_measure_calls_and_times():
    """``warmup`` untimed calls, then torch's Timer (about ``repeat`` timed
    calls of a call long enough to be timed alone, plus one untimed call per
    ``blocked_autorange`` to choose its block size): seconds per call."""
    import time
    calls = []

    def sleep():
        calls.append(1)
        time.sleep(0.05)

    timed = helpers.measure(sleep, warmup=3, repeat=4)
    assert len(timed.times) >= 2
    assert len(calls) >= 3 + 2 + len(timed.times)
    assert 0.045 < timed.median < 0.5
    assert len(helpers.measure(sleep, 0, 1).times) == 1


# The imports at the top of the official models/crossformer_backbone_det.py
# (mmcv 1.x / mmdet 2.x names), to check that the tool provides them.
LEGACY_IMPORTS = """
from mmdet.utils import get_root_logger
from mmcv.runner import load_checkpoint
from mmcv.cnn import build_norm_layer, constant_init, trunc_normal_init
from mmcv.cnn.bricks.transformer import FFN, build_dropout
from mmcv.cnn.utils.weight_init import trunc_normal_
from mmcv.runner import BaseModule, ModuleList, _load_checkpoint

NAMES = (get_root_logger, load_checkpoint, build_norm_layer, constant_init,
         trunc_normal_init, FFN, build_dropout, trunc_normal_, BaseModule,
         ModuleList, _load_checkpoint)
"""


def test_official_file_imports_resolve_and_are_removed(tmp_path):
    import mmdet.utils
    real = sys.modules['mmdet.utils']
    (tmp_path / 'models').mkdir()
    (tmp_path / 'models' / 'crossformer_backbone_det.py').write_text(
        LEGACY_IMPORTS)
    module = official_tool.load_official(str(tmp_path), 'det')
    assert all(name is not None for name in module.NAMES)
    assert sys.modules['mmdet.utils'] is real is mmdet.utils
    assert 'mmcv.runner' not in sys.modules


def test_official_root_must_be_a_clone(tmp_path):
    with pytest.raises(FileNotFoundError, match='cheerss/CrossFormer'):
        official_tool.load_official(str(tmp_path), 'cls')


@pytest.mark.parametrize('name,scope,params', [
    ('swin-t_in1k.py', 'mmpretrain', 28_288_354),  # mmpretrain: 28.29 M
    ('retinanet_swin-t_coco.py', 'mmdet', 38_458_606),  # mmdet: 38.5 M
    # timm_crossvit_15_240_in1k.py (TimmClassifier, no backbone part):
    # tests/test_configs/test_timm_reference.py
])
def test_reference_configs_build(name, scope, params):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(CONFIGS, 'reference', name))
    model = build_model(cfg)
    assert model.cfg.default_scope == scope
    assert sum(p.numel() for p in model.parameters()) == params
    out = model.backbone(torch.randn(1, 3, 224, 224))
    assert all(torch.isfinite(o).all() for o in out)


@pytest.mark.skipif(torch.cuda.is_available(),
                    reason='checks the error given where CUDA is missing')
@pytest.mark.parametrize('script,args', [
    ('benchmark.py', [DEMO]),
    ('benchmark_official.py', ['--official-root', '/nonexistent']),
])
def test_device_cuda_without_cuda_is_a_clear_error(script, args):
    """Exit status 1 and one line naming the cause, not a traceback from
    deep inside torch (both tools check before building anything)."""
    import subprocess
    proc = subprocess.run(
        [sys.executable, osp.join(TOOLS, 'analysis_tools', script), *args,
         '--device', 'cuda'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    assert re.search(rf'{script}: error: --device cuda given but CUDA is '
                     r'not available: this torch is (a CPU-only build|built '
                     r'for CUDA)', proc.stderr), proc.stderr
    with pytest.raises(ValueError, match='CUDA is not available'):
        tool.benchmark([(DEMO, None)], device='cuda')
    with pytest.raises(ValueError, match='CUDA is not available'):
        official_tool.benchmark('/nonexistent', device='cuda')


def test_amp_dtypes():
    cpu, cuda = torch.device('cpu'), torch.device('cuda')
    assert helpers.amp_dtype(cpu, False) is None
    assert helpers.amp_dtype(cpu, True) == torch.bfloat16
    assert helpers.amp_dtype(cuda, True) == torch.float16
    assert helpers.amp_dtype(cpu, 'fp16') == torch.float16
    with pytest.raises(ValueError, match='fp8'):
        helpers.amp_dtype(cuda, 'fp8')


def test_no_tool_imports_another_tool():
    """Code that tools share lives in the package: no tool imports a
    sibling tool."""
    import ast
    import glob
    tools = {osp.splitext(osp.basename(p))[0]
             for p in glob.glob(osp.join(TOOLS, '**', '*.py'), recursive=True)}
    for path in glob.glob(osp.join(TOOLS, '**', '*.py'), recursive=True):
        tree = ast.parse(open(path).read())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split('.')[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split('.')[0]]
            assert not set(names) & tools, (path, names)
