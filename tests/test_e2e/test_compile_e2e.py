"""torch.compile in training: ``compile`` in the config, as mmengine's
Runner takes it (``True`` or a dict of ``torch.compile`` arguments;
tools/train.py: ``--cfg-options compile=True``), for RetinaNet with a tiny
CrossFormer++ and a tiny dense CrossViT on the embedded COCO set, batches
of three different padded sizes.

mmengine 0.10.7 compiles ``model.train_step`` in ``Runner.train`` (data
preprocessor, losses, backward and optimizer step; what dynamo cannot
capture, e.g. mmdet's box assignment with data-dependent shapes, runs
eagerly between graphs); validation and test run eagerly.

Each test trains the same model twice from the same seed on the same
batches, eagerly and compiled, and checks that the compiled run really went
through the compiler (the train step replaced, the backbone inside a
captured graph), computes the same losses, and compiles the graph that
holds the backbone once per padded size: not again for a padded size it
has seen, whatever the sizes of the images inside (the last batch has the
first one's padded size, other images).

The default-suite tests compile static graphs (``dynamic=False``: one per
padded size) with the ``aot_eager`` backend: dynamo's capture, guards and
recompiles and AOTAutograd's joint forward / backward graph
(functionalisation, decompositions), i.e. what inductor compiles, without
inductor's C++ code generation (minutes per graph on a 2-core CPU). The
slow tests run inductor, and dynamo's default automatic dynamic shapes
(a static graph for the first size, a dynamic one from the second size
on, which serves all later sizes); docs/en/benchmarks.md, "torch.compile
in training", has the times.
"""
import copy
import os.path as osp

import pytest
import torch
from mmcv.transforms import BaseTransform
from mmdet.datasets.transforms import Resize
from mmdet.registry import TRANSFORMS
from mmengine.config import Config
from mmengine.hooks import Hook

from mmcrossformer.testing import CONFIGS, TINY_CROSSFORMER, TINY_CROSSVIT

#: Image size (w, h) of each training image by its index in the data set:
#: batches of two (no shuffling) padded to multiples of 32 give the h x w
#: of :data:`PADDED` (none square, so that dynamo's duck sizing does not
#: tie H to W); the third batch has the first one's padded size but other
#: image sizes, the fourth a new padded size. At all of them every stage
#: map of the tiny CrossFormer (group size 7, as the detection configs)
#: takes the same L/SDA branch (grouped in stages 1 to 3, one group in
#: stage 4: the shorter side is 128 to 224 pixels), and every map of the
#: RetinaNet neck (strides 8 to 128) is at least 2 x 2: dynamo
#: specialises a size of 1 (a 64-pixel side, P6 of 1 row) as a constant,
#: and a graph made dynamic at such a size recompiles for a larger one.
SIZES = [(192, 160), (176, 144), (224, 192), (208, 176), (192, 136),
         (160, 160), (160, 224), (144, 208)]
PADDED = [(160, 192), (192, 224), (160, 192), (224, 160)]


@TRANSFORMS.register_module(name='MmcfTestResizeBySampleIndex',
                            force=True)
class ResizeBySampleIndex(BaseTransform):
    """Resizes image ``i`` of the data set to ``SIZES[i]`` (no aspect
    kept), boxes with it: the same sizes in every run."""

    def transform(self, results):
        scale = SIZES[results['sample_idx'] % len(SIZES)]
        return Resize(scale=scale, keep_ratio=False)(results)


GRAPHS = []  # the graph modules the recording backends received


def _recording(backend):
    def compile_graph(gm, example_inputs):
        GRAPHS.append(gm)
        return torch._dynamo.lookup_backend(backend)(gm, example_inputs)

    return compile_graph


#: dynamo backends that record each graph, then compile it with the named
#: one; a config names them as it names any backend
BACKENDS = {
    'aot_eager': 'mmcf_test_recording_aot_eager',
    'inductor': 'mmcf_test_recording_inductor'
}
for _backend, _name in BACKENDS.items():
    if _name not in torch._dynamo.list_backends(exclude_tags=()):
        torch._dynamo.register_backend(_recording(_backend), name=_name)


def holds_backbone(gm):
    """Whether a captured graph takes the backbone's parameters."""
    return any('backbone' in n.name for n in gm.graph.nodes
               if n.op == 'placeholder')


class RecordIterations(Hook):
    """Per iteration: the padded batch shape, the loss, and how many graphs
    that hold the backbone were compiled during it."""

    def __init__(self):
        self.padded, self.losses, self.backbone_graphs = [], [], []

    def before_train(self, runner):
        self.initial = self._weights(runner)

    def after_train(self, runner):
        self.final = self._weights(runner)

    @staticmethod
    def _weights(runner):
        return {k: v.detach().clone()
                for k, v in runner.model.state_dict().items()
                if v.is_floating_point()}

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self._seen = len(GRAPHS)
        h = max(img.shape[-2] for img in data_batch['inputs'])
        w = max(img.shape[-1] for img in data_batch['inputs'])
        self.padded.append((-(-h // 32) * 32, -(-w // 32) * 32))

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.losses.append(float(outputs['loss']))
        self.backbone_graphs.append(
            sum(holds_backbone(gm) for gm in GRAPHS[self._seen:]))


def tiny_config(family, root, work_dir, iters, compile_cfg=None):
    """The real RetinaNet config of ``family`` with a tiny backbone, a
    narrow head, a constant lr and one epoch over the first ``2 * iters``
    training images of ``root`` (sizes :data:`SIZES`, 2 per iteration), no
    validation or checkpoint."""
    if family == 'crossformerpp':
        cfg = Config.fromfile(
            osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco_demo.py'))
        cfg.model.backbone.arch = copy.deepcopy(TINY_CROSSFORMER)
        cfg.model.neck.in_channels = [32, 64, 128, 256]
    else:
        cfg = Config.fromfile(
            osp.join(CONFIGS, 'retinanet_crossvit_15_dagger_coco.py'))
        cfg.model.backbone.arch = copy.deepcopy(TINY_CROSSVIT)
        cfg.model.backbone.dense_pos_size = 256
        cfg.model.neck.in_channels = (16, 32)
    cfg.model.backbone.drop_path_rate = 0.
    cfg.model.neck.out_channels = 32
    cfg.model.bbox_head.update(in_channels=32, feat_channels=32,
                               stacked_convs=1)
    cfg.work_dir = work_dir
    loader = cfg.train_dataloader
    loader.update(batch_size=2, num_workers=0, persistent_workers=False,
                  sampler=dict(type='DefaultSampler', shuffle=False))
    loader.dataset.update(data_root=root, indices=2 * iters)
    loader.dataset.pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='MmcfTestResizeBySampleIndex'),
        dict(type='PackDetInputs'),
    ]
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=10)
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[key] = None
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger.interval = 1
    cfg.custom_hooks = []
    # a constant lr: a scheduler changes it every iteration, and dynamo
    # recompiles the optimizer step for every new value (a float guard)
    cfg.param_scheduler = []
    cfg.randomness = dict(seed=0)
    if compile_cfg is not None:
        cfg.compile = compile_cfg
    return cfg


def train(cfg):
    """Build the Runner as tools/train.py does and train; returns the
    runner and its :class:`RecordIterations`."""
    from mmcrossformer.utils.cli import build_runner
    runner = build_runner(cfg)
    record = RecordIterations()
    runner.register_hook(record)
    runner.train()
    return runner, record


def check_compiled_training(family, root, tmp_path, compile_cfg,
                            backbone_graphs, rtol):
    """Train eagerly, then compiled with ``compile_cfg``, and compare (see
    the module docstring); ``backbone_graphs``: the number of graphs
    holding the backbone compiled in each iteration (one per iteration).

    The first loss (same weights) must agree within ``rtol``, the later
    ones within ``10 * rtol``; the compiled run's weights must end where
    the eager run's did, within 5% of how far those moved (a compiled step
    that updated nothing, or something else, is far off).
    """
    iters = len(backbone_graphs)
    _, eager = train(
        tiny_config(family, root, str(tmp_path / 'eager'), iters))
    torch._dynamo.reset()
    GRAPHS.clear()
    try:
        runner, compiled = train(
            tiny_config(family, root, str(tmp_path / 'compiled'), iters,
                        compile_cfg))
        # mmengine replaced the model's train_step by the compiled one
        assert hasattr(runner.model.train_step, '_torchdynamo_orig_callable')
        assert eager.padded == compiled.padded == PADDED[:iters]
        assert len(set(eager.losses)) == iters  # the batches differ
        torch.testing.assert_close(
            compiled.losses[0], eager.losses[0], rtol=rtol, atol=rtol)
        torch.testing.assert_close(
            compiled.losses, eager.losses, rtol=10 * rtol, atol=10 * rtol)
        moved = max((eager.final[k] - v).abs().max().item()
                    for k, v in eager.initial.items())
        apart = max((compiled.final[k] - v).abs().max().item()
                    for k, v in eager.final.items())
        for k, v in eager.initial.items():
            assert torch.equal(compiled.initial[k], v), k
        assert moved > 1e-4 and apart < 0.05 * moved, (moved, apart)
        assert compiled.backbone_graphs == backbone_graphs
    finally:
        torch._dynamo.reset()


@pytest.mark.parametrize('family', ['crossformerpp', 'crossvit_dense'])
def test_compiled_training_matches_eager(family, demo_coco, tmp_path):
    """Static graphs with ``aot_eager``, three iterations: a backbone
    graph for each of the two padded sizes, none for the third batch
    (the first padded size, other images)."""
    check_compiled_training(
        family, demo_coco, tmp_path,
        dict(backend=BACKENDS['aot_eager'], dynamic=False),
        backbone_graphs=[1, 1, 0], rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize('family', ['crossformerpp', 'crossvit_dense'])
def test_compiled_training_dynamic_shapes(family, demo_coco, tmp_path):
    """``compile=True`` minus inductor's code generation (``aot_eager``,
    automatic dynamic shapes): a static backbone graph for the first size,
    a dynamic one for the second, which serves the first padded size again
    and a new one."""
    check_compiled_training(
        family, demo_coco, tmp_path, dict(backend=BACKENDS['aot_eager']),
        backbone_graphs=[1, 1, 0, 0], rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize('family', ['crossformerpp', 'crossvit_dense'])
def test_compiled_training_with_inductor(family, demo_coco, tmp_path):
    """Inductor, static graphs, three iterations (inductor fuses and
    reorders the fp32 arithmetic: the first loss within 1e-4)."""
    check_compiled_training(
        family, demo_coco, tmp_path,
        dict(backend=BACKENDS['inductor'], dynamic=False),
        backbone_graphs=[1, 1, 0], rtol=1e-4)


def test_train_tool_passes_compile_to_the_runner(demo_coco):
    """tools/train.py's config loading keeps ``--cfg-options compile=True``
    (or ``compile.dynamic=False``, a dict of torch.compile arguments) for
    the Runner, which compiles the train step with it."""
    from mmcrossformer.utils.cli import load_tool_config, parse_train_args
    config = osp.join(CONFIGS, 'retinanet_crossformerpp_s_coco_demo.py')
    roots = [f'{loader}.dataset.data_root={demo_coco}'
             for loader in ('train_dataloader', 'val_dataloader')]
    for option, expected in [('compile=True', True),
                             ('compile.dynamic=False', dict(dynamic=False))]:
        args = parse_train_args([config, '--cfg-options', option, *roots])
        assert load_tool_config(args, ('train_dataloader', )).compile == \
            expected
