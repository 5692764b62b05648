"""Helpers that export a config with mmdeploy and compare ONNX Runtime's
predictions with PyTorch's.

Used by ``tests/test_deployment`` and for the parity numbers of
docs/en/deployment.md. Everything goes through the public APIs of the
packages: mmdeploy's ``torch2onnx`` and ``build_task_processor`` (its ONNX
Runtime end-to-end models) on one side, ``mmdet.apis.inference_detector``,
``mmseg.apis.inference_model`` and ``mmpretrain.apis.inference_model`` on
the other, the same weights file and the same fixed-size test pipeline on
both. Imports mmdeploy and the downstream packages only inside functions.

Matching rules (also stated in docs/en/deployment.md):

* detections: the boxes of ONNX Runtime and PyTorch are matched one to one
  by label and IoU (greedy, best pair first). Every PyTorch detection whose
  score clears the border by ``margin`` must have a partner of the same
  label whose coordinates agree within ``rtol`` relative to the image size
  and whose score agrees within ``atol``; the same holds the other way.
  The border is the larger of the score threshold and the score of the
  last kept box when the list is full (top-k), so a box that sits at the
  border in one run and just misses it in the other cannot make the check
  flaky;
* masks: the IoU of the partners' binary masks;
* label maps: the fraction of pixels with the same label;
* classifier: the largest absolute difference of the class scores and the
  top-1 class.
"""
import copy
import logging
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

__all__ = [
    'fixed_size_config', 'save_seeded_checkpoint', 'export_with_mmdeploy',
    'pytorch_predict', 'onnxruntime_predict', 'match_detections',
    'compare_label_maps', 'compare_class_scores', 'load_deploy_config',
    'demo_images'
]


def load_deploy_config(deploy_cfg, input_hw: Optional[Tuple[int, int]] = None):
    """Load a deploy config, optionally with another static input size.

    Args:
        deploy_cfg (str | Config): A file of ``configs/deploy/`` or a
            loaded config.
        input_hw (tuple[int, int], optional): (H, W) to write into
            ``onnx_config.input_shape`` (stored as mmdeploy's [W, H]).
            Defaults to None (unchanged).

    Returns:
        Config: A new config.
    """
    from mmengine import Config
    cfg = (Config.fromfile(deploy_cfg)
           if isinstance(deploy_cfg, str) else copy.deepcopy(deploy_cfg))
    if input_hw is not None:
        cfg.onnx_config.input_shape = [int(input_hw[1]), int(input_hw[0])]
    return cfg


def _codebase(cfg) -> str:
    """'mmdet', 'mmseg' or 'mmpretrain': the package of a model config."""
    scope = cfg.get('default_scope')
    if scope not in ('mmdet', 'mmseg', 'mmpretrain'):
        raise ValueError(f'cannot tell the codebase of a config with '
                         f'default_scope={scope!r}; expected mmdet, mmseg '
                         'or mmpretrain')
    return scope


def fixed_size_config(model_cfg, input_hw: Tuple[int, int],
                      cfg_options: Optional[Dict] = None):
    """A model config whose test pipeline resizes every image to one size.

    The resize ignores the aspect ratio, as mmdeploy's static detection
    export does, so PyTorch and the static ONNX graph see the same tensor.

    Args:
        model_cfg (str | Config): The model config.
        input_hw (tuple[int, int]): (H, W) of the network input.
        cfg_options (dict, optional): Dotted keys merged into the config
            (e.g. ``{'model.test_cfg.score_thr': 0.01}``). Defaults to None.

    Returns:
        Config: A new config; ``test_pipeline`` and the test data loader's
        pipeline are both replaced.
    """
    from mmengine import Config
    cfg = (Config.fromfile(model_cfg)
           if isinstance(model_cfg, str) else copy.deepcopy(model_cfg))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    h, w = (int(v) for v in input_hw)
    codebase = _codebase(cfg)
    if codebase == 'mmdet':
        pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(w, h), keep_ratio=False),
            dict(type='PackDetInputs',
                 meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                            'scale_factor')),
        ]
    elif codebase == 'mmseg':
        pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(w, h), keep_ratio=False),
            dict(type='PackSegInputs'),
        ]
    else:
        pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(w, h),
                 backend='pillow', interpolation='bicubic'),
            dict(type='PackInputs'),
        ]
    cfg.test_pipeline = copy.deepcopy(pipeline)
    cfg.test_dataloader.dataset.pipeline = copy.deepcopy(pipeline)
    return cfg


def save_seeded_checkpoint(model_cfg, path: str, seed: int = 0,
                           scale: Optional[Dict[str, float]] = None) -> str:
    """Build the config's model with seeded random weights and save them.

    The model's own ``init_weights`` runs after ``torch.manual_seed(seed)``
    (pre-trained ``init_cfg`` files are dropped), so the file is the same
    on every run of the same torch. Heads initialised for training predict
    nearly the same score everywhere (e.g. RetinaNet's 0.01 prior), which
    makes every detection a tie; ``scale`` multiplies chosen parameters so
    that scores spread out and the ranking, NMS and top-k have something
    to decide.

    Args:
        model_cfg (Config): The model config.
        path (str): Where to write the checkpoint (``state_dict`` and
            ``meta.dataset_meta`` with the class names when known).
        seed (int): Torch seed. Defaults to 0.
        scale (dict[str, float], optional): Parameter name -> factor,
            e.g. ``{'bbox_head.retina_cls.weight': 40.0}``. Defaults to
            None.

    Returns:
        str: ``path``.

    Raises:
        KeyError: If a name of ``scale`` is not a parameter of the model.
    """
    from mmengine.logging import MMLogger
    from mmengine.registry import MODELS, init_default_scope
    cfg = copy.deepcopy(model_cfg)
    init_default_scope(_codebase(cfg))
    backbone = cfg.model.get('backbone', {})
    if isinstance(backbone.get('init_cfg'), dict):
        backbone.init_cfg = None
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # init_weights logs every parameter
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    state = model.state_dict()
    for name, factor in (scale or {}).items():
        if name not in state:
            raise KeyError(f'{name!r} (in scale) is not a parameter of '
                           f'{type(model).__name__}')
        state[name].mul_(factor)
    meta = {}
    classes = _class_names(cfg)
    if classes is not None:
        meta['dataset_meta'] = dict(classes=classes)
    torch.save(dict(state_dict=state, meta=meta), path)
    return path


def _class_names(cfg) -> Optional[List[str]]:
    """The class names of the config's test data set, if it declares any."""
    import importlib
    codebase = _codebase(cfg)
    importlib.import_module(f'{codebase}.datasets')  # registers them
    registry = importlib.import_module(f'{codebase}.registry').DATASETS
    dataset = cfg.test_dataloader.dataset
    meta = dataset.get('metainfo')
    if meta and 'classes' in meta:
        return list(meta['classes'])
    cls = registry.get(dataset.type)
    meta = getattr(cls, 'METAINFO', None)
    return list(meta['classes']) if meta and 'classes' in meta else None


def export_with_mmdeploy(img: np.ndarray, work_dir: str, deploy_cfg,
                         model_cfg, checkpoint: str) -> Tuple[str, float]:
    """Export with ``mmdeploy.apis.torch2onnx`` (TorchScript exporter).

    Args:
        img (np.ndarray): The image (H, W, 3), BGR uint8, traced through
            the model config's test pipeline.
        work_dir (str): Output folder.
        deploy_cfg (Config): The deploy config.
        model_cfg (Config): The model config.
        checkpoint (str): The weights file.

    Returns:
        tuple[str, float]: The ONNX file and the export time in seconds.
    """
    from mmdeploy.apis import torch2onnx

    from mmcrossformer.deployment import torchscript_onnx_export
    save_file = deploy_cfg.onnx_config.save_file
    start = time.perf_counter()
    with torchscript_onnx_export():
        torch2onnx(img, work_dir, save_file, deploy_cfg, model_cfg,
                   checkpoint, device='cpu')
    seconds = time.perf_counter() - start
    onnx_file = osp.join(work_dir, save_file)
    if not osp.isfile(onnx_file):
        raise RuntimeError(f'torch2onnx wrote no {onnx_file}')
    return onnx_file, seconds


def onnxruntime_predict(deploy_cfg, model_cfg, onnx_file: str,
                        imgs: Sequence[np.ndarray]) -> list:
    """Run mmdeploy's ONNX Runtime end-to-end model on images.

    Args:
        deploy_cfg (Config): The deploy config.
        model_cfg (Config): The model config.
        onnx_file (str): The exported graph.
        imgs (Sequence[np.ndarray]): Images (H, W, 3), BGR uint8.

    Returns:
        list: One data sample per image (mmdet ``DetDataSample``, mmseg
        ``SegDataSample`` or mmpretrain ``DataSample``), as
        ``mmdeploy.apis.inference_model`` returns them.
    """
    from mmdeploy.apis.utils import build_task_processor
    from mmdeploy.utils import get_input_shape
    processor = build_task_processor(model_cfg, deploy_cfg, 'cpu')
    model = processor.build_backend_model(
        [onnx_file], processor.update_data_preprocessor)
    shape = get_input_shape(deploy_cfg)
    results = []
    for img in imgs:
        inputs, _ = processor.create_input(img, shape)
        with torch.no_grad():
            results.extend(model.test_step(inputs))
    return results


def pytorch_predict(model_cfg, checkpoint: str,
                    imgs: Sequence[np.ndarray]) -> list:
    """Run the config's model in PyTorch through the package's own API.

    Args:
        model_cfg (Config): The model config.
        checkpoint (str): The weights file.
        imgs (Sequence[np.ndarray]): Images (H, W, 3), BGR uint8.

    Returns:
        list: One data sample per image.
    """
    codebase = _codebase(model_cfg)
    with torch.no_grad():
        if codebase == 'mmdet':
            from mmdet.apis import inference_detector, init_detector
            model = init_detector(model_cfg, checkpoint, device='cpu')
            return [inference_detector(model, img) for img in imgs]
        if codebase == 'mmseg':
            from mmseg.apis import inference_model, init_model
            model = init_model(model_cfg, checkpoint, device='cpu')
            return [inference_model(model, img) for img in imgs]
        from mmpretrain.apis import init_model
        model = init_model(model_cfg, checkpoint, device='cpu')
        return _classify(model, model_cfg, imgs)


def _classify(model, model_cfg, imgs) -> list:
    """mmpretrain's test pipeline and ``test_step`` on in-memory images."""
    from mmengine.dataset import Compose, default_collate
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    pipeline = Compose([t for t in model_cfg.test_pipeline
                        if 'LoadImage' not in t['type']])
    results = []
    for img in imgs:
        data = pipeline(dict(img=img, img_shape=img.shape[:2],
                             ori_shape=img.shape[:2]))
        results.extend(model.test_step(default_collate([data])))
    return results


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of boxes (N, 4) and (M, 4), x1 y1 x2 y2."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


def _border(scores: np.ndarray, score_thr: float, max_per_img: int) -> float:
    """The lowest score a box can have and still be kept."""
    if len(scores) >= max_per_img:
        return max(score_thr, float(np.sort(scores)[-max_per_img]))
    return score_thr


def match_detections(ref, out, score_thr: float, max_per_img: int,
                     image_size: Tuple[int, int], margin: float = 1e-3,
                     rtol: float = 1e-3, atol_score: float = 1e-3,
                     min_iou: float = 0.5) -> Dict[str, float]:
    """Match ONNX Runtime detections to PyTorch's (see the module doc).

    Args:
        ref (DetDataSample): PyTorch's prediction.
        out (DetDataSample): ONNX Runtime's prediction.
        score_thr (float): The score threshold both used.
        max_per_img (int): Their top-k.
        image_size (tuple[int, int]): (H, W) of the image the boxes are in;
            the box tolerance is ``rtol * max(H, W)`` pixels.
        margin (float): How far above the border a box's score must be to
            be required in both lists. Defaults to 1e-3.
        rtol (float): Box tolerance relative to the image size.
            Defaults to 1e-3.
        atol_score (float): Score tolerance. Defaults to 1e-3.
        min_iou (float): Least IoU of a candidate pair. Defaults to 0.5.

    Returns:
        dict: ``num_ref`` / ``num_out`` (detections), ``num_checked``
        (matched pairs clear of the border), ``max_box_diff`` (pixels),
        ``max_rel_box_diff``, ``max_score_diff``, ``min_mask_iou`` (when
        both carry masks, else nan), and ``unmatched``: a list of
        ``(side, score, label)`` of required boxes without a partner.
    """
    pr, po = ref.pred_instances, out.pred_instances
    rb, ob = pr.bboxes.cpu().numpy(), po.bboxes.cpu().numpy()
    rs, os_ = pr.scores.cpu().numpy(), po.scores.cpu().numpy()
    rl, ol = pr.labels.cpu().numpy(), po.labels.cpu().numpy()
    with_masks = 'masks' in pr and 'masks' in po
    iou = _box_iou(rb, ob) if len(rb) and len(ob) else np.zeros(
        (len(rb), len(ob)))
    iou = np.where(rl[:, None] == ol[None, :], iou, -1.0)
    pairs = {}
    used_o = set()
    for flat in np.argsort(-iou, axis=None):
        i, j = np.unravel_index(flat, iou.shape)
        if iou[i, j] < min_iou:
            break
        if i in pairs or j in used_o:
            continue
        pairs[i] = j
        used_o.add(j)
    border = max(_border(rs, score_thr, max_per_img),
                 _border(os_, score_thr, max_per_img))
    scale = float(max(image_size))
    stats = dict(num_ref=len(rb), num_out=len(ob), num_checked=0,
                 max_box_diff=0.0, max_rel_box_diff=0.0, max_score_diff=0.0,
                 min_mask_iou=float('nan') if not with_masks else 1.0,
                 unmatched=[])
    for i in range(len(rb)):
        if rs[i] < border + margin:
            continue
        j = pairs.get(i)
        if j is None:
            stats['unmatched'].append(('pytorch', float(rs[i]), int(rl[i])))
            continue
        stats['num_checked'] += 1
        diff = float(np.abs(rb[i] - ob[j]).max())
        stats['max_box_diff'] = max(stats['max_box_diff'], diff)
        stats['max_rel_box_diff'] = max(stats['max_rel_box_diff'],
                                        diff / scale)
        stats['max_score_diff'] = max(stats['max_score_diff'],
                                      float(abs(rs[i] - os_[j])))
        if with_masks:
            a = pr.masks[i].cpu().numpy().astype(bool)
            b = po.masks[j].cpu().numpy().astype(bool)
            union = np.logical_or(a, b).sum()
            m_iou = 1.0 if union == 0 else np.logical_and(a, b).sum() / union
            stats['min_mask_iou'] = min(stats['min_mask_iou'], float(m_iou))
    matched_o = set(pairs.values())
    for j in range(len(ob)):
        if os_[j] >= border + margin and j not in matched_o:
            stats['unmatched'].append(('onnxruntime', float(os_[j]),
                                       int(ol[j])))
    return stats


def compare_label_maps(ref, out) -> Dict[str, float]:
    """Agreement of two mmseg predictions' label maps.

    Args:
        ref (SegDataSample): PyTorch's prediction.
        out (SegDataSample): ONNX Runtime's prediction.

    Returns:
        dict: ``agreement`` (fraction of pixels with the same label),
        ``shape`` (H, W) and ``num_labels`` (distinct labels in ``ref``).

    Raises:
        ValueError: If the label maps differ in shape.
    """
    a = ref.pred_sem_seg.data.squeeze().cpu().numpy()
    b = out.pred_sem_seg.data.squeeze().cpu().numpy()
    if a.shape != b.shape:
        raise ValueError(f'label maps differ in shape: PyTorch {a.shape}, '
                         f'ONNX Runtime {b.shape}')
    return dict(agreement=float((a == b).mean()), shape=a.shape,
                num_labels=int(len(np.unique(a))))


def compare_class_scores(ref, out) -> Dict[str, float]:
    """Difference of two mmpretrain predictions' class scores.

    Args:
        ref (DataSample): PyTorch's prediction.
        out (DataSample): ONNX Runtime's prediction.

    Returns:
        dict: ``max_score_diff``, ``top1_ref``, ``top1_out`` and
        ``top1_margin`` (PyTorch's first minus second score).
    """
    a = ref.pred_score.cpu().numpy()
    b = out.pred_score.cpu().numpy()
    top2 = np.sort(a)[-2:]
    return dict(max_score_diff=float(np.abs(a - b).max()),
                top1_ref=int(a.argmax()), top1_out=int(b.argmax()),
                top1_margin=float(top2[1] - top2[0]))


def demo_images(root: str, num: int) -> List[np.ndarray]:
    """The first ``num`` images (BGR uint8) under a folder, by sorted path.

    Args:
        root (str): A folder, searched recursively (e.g. a demo set's
            validation images).
        num (int): How many images.

    Returns:
        list[np.ndarray]: Images (H, W, 3).

    Raises:
        FileNotFoundError: If the folder holds fewer than ``num`` images.
    """
    import mmcv
    paths = sorted(
        osp.join(d, n) for d, _, names in os.walk(root) for n in names
        if n.lower().endswith(('.jpg', '.jpeg', '.png')))
    if len(paths) < num:
        raise FileNotFoundError(f'{root} holds {len(paths)} images, '
                                f'{num} wanted')
    return [mmcv.imread(p) for p in paths[:num]]
