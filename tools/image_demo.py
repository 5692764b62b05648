"""Run a model of any family on one image; save the picture and a JSON.

    python tools/image_demo.py IMG CONFIG [--weights CKPT] [--out-dir DIR]
        [--device cpu|cuda] [--score-thr 0.3] [--topk 5]
        [--cfg-options KEY=VALUE ...]

The model is built and its weights loaded strictly by
``mmcrossformer.apis.init_model``; the inferencer of the config's package
(mmdet ``DetInferencer``, mmseg ``MMSegInferencer``, mmpretrain
``ImageClassificationInferencer``, chosen by the config's
``default_scope``) runs it and draws the result. Class names (and colours)
come from the checkpoint's ``dataset_meta``, else from the config's test
dataset class. Written to ``--out-dir`` (default ``outputs/``):

* ``<name>_vis.png``: the visualised prediction;
* ``<name>.json``:
  - detection: ``boxes`` ([[x1, y1, x2, y2], ...] in input pixels),
    ``scores``, ``labels``, ``classes`` (names), boxes scoring at least
    ``--score-thr``;
  - segmentation: ``label_map`` (the PNG written next to it, one class index
    per pixel), ``height``, ``width``, ``classes`` (present class names with
    their pixel fractions);
  - classification: ``topk`` list of ``{label, class, score}``.

Errors: a missing image, an unreadable image, or weights that do not fit the
config (missing / unexpected / wrong-shape keys) stop with a message.
"""
import argparse
import importlib
import json
import os
import os.path as osp

import numpy as np

from mmcrossformer.utils.cli import add_cfg_options


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='config of any family')
    parser.add_argument(
        '--weights',
        help='checkpoint: a path or http(s) URL, this project\'s or an '
        'official file as released (random weights if omitted)')
    parser.add_argument('--out-dir', default='outputs')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--topk', type=int, default=5)
    add_cfg_options(
        parser, 'override config entries (dotted keys), e.g. '
        'model.test_cfg.score_thr=0.1')
    return parser.parse_args()


def read_image(path: str) -> np.ndarray:
    import mmcv
    if not osp.isfile(path):
        raise FileNotFoundError(f'image {path} does not exist')
    try:
        img = mmcv.imread(path)
    except Exception as err:  # mmcv raises several kinds
        raise ValueError(f'cannot read image {path}: {err}') from err
    if img is None:
        raise ValueError(f'cannot read image {path}: not an image file')
    return img


def _around(inferencer_cls, model, **kwargs):
    """An inferencer of ``inferencer_cls`` (mmengine's ``BaseInferencer``
    family) around ``model``, built by ``mmcrossformer.apis.init_model``,
    instead of a model it would build and load itself."""

    class Prebuilt(inferencer_cls):

        def _init_model(self, cfg, weights, device):
            return model

    return Prebuilt(model=model.cfg, weights=None, **kwargs)


def _test_metainfo(cfg) -> dict:
    """``classes`` and ``palette`` of the config's test dataset: its class's
    ``METAINFO``, updated by the config's ``metainfo``."""
    scope = cfg.get('default_scope')
    dataset_cfg = cfg.test_dataloader.dataset
    datasets = importlib.import_module(f'{scope}.registry').DATASETS
    meta = dict(datasets.get(dataset_cfg.type).METAINFO)
    meta.update(dataset_cfg.get('metainfo') or {})
    return {k: list(v) for k, v in meta.items()
            if k in ('classes', 'palette')}


def main():
    args = parse_args()
    from mmengine.config import Config

    from mmcrossformer.apis import init_model
    from mmcrossformer.utils import flush_denormals_on_cpu
    flush_denormals_on_cpu()
    read_image(args.img)  # checks the file; inferencers read paths
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    scope = cfg.get('default_scope')
    if scope not in ('mmdet', 'mmseg', 'mmpretrain'):
        raise ValueError(f'{args.config}: unsupported default_scope {scope!r}'
                         f' (mmdet, mmseg or mmpretrain)')
    if args.weights and '://' not in args.weights and \
            not osp.isfile(args.weights):
        raise FileNotFoundError(f'weights {args.weights} do not exist')
    if scope == 'mmdet':
        # the model's own test threshold must not hide boxes above
        # --score-thr
        test_cfg = cfg.model.get('test_cfg') or {}
        for node in (test_cfg, test_cfg.get('rcnn') or {}):
            if 'score_thr' in node:
                node['score_thr'] = min(node['score_thr'], args.score_thr)
    # strict: weights that do not fit the config stop here with the keys
    model = init_model(cfg, args.weights, device=args.device)
    if scope != 'mmpretrain':
        # the checkpoint's names win; only the keys the visualizers take
        # (a trained mmseg checkpoint also records label_map, ...)
        meta = _test_metainfo(cfg)
        meta.update({
            k: v
            for k, v in (getattr(model, 'dataset_meta', None) or {}).items()
            if k in ('classes', 'palette')
        })
        model.dataset_meta = meta
    os.makedirs(args.out_dir, exist_ok=True)
    name = osp.splitext(osp.basename(args.img))[0]
    vis_path = osp.join(args.out_dir, f'{name}_vis.png')

    import mmcv
    if scope == 'mmdet':
        from mmdet.apis import DetInferencer
        inferencer = _around(DetInferencer, model)
        res = inferencer(
            args.img, return_vis=True, pred_score_thr=args.score_thr,
            no_save_vis=True)
        pred = res['predictions'][0]
        classes = model.dataset_meta['classes']
        keep = [i for i, s in enumerate(pred['scores'])
                if s >= args.score_thr]
        out = dict(
            boxes=[[round(float(v), 2) for v in pred['bboxes'][i]]
                   for i in keep],
            scores=[round(float(pred['scores'][i]), 4) for i in keep],
            labels=[int(pred['labels'][i]) for i in keep],
            classes=[classes[int(pred['labels'][i])] for i in keep])
        mmcv.imwrite(res['visualization'][0][..., ::-1], vis_path)
    elif scope == 'mmseg':
        from mmseg.apis import MMSegInferencer
        classes = model.dataset_meta['classes']
        inferencer = _around(
            MMSegInferencer,
            model,
            classes=classes,
            palette=model.dataset_meta['palette'])
        res = inferencer(args.img, return_vis=True)
        label = np.asarray(res['predictions']).astype(np.uint8)
        label_path = osp.join(args.out_dir, f'{name}_label.png')
        mmcv.imwrite(label, label_path)
        ids, counts = np.unique(label, return_counts=True)
        out = dict(
            label_map=osp.basename(label_path),
            height=int(label.shape[0]),
            width=int(label.shape[1]),
            classes={classes[i]: round(float(c) / label.size, 4)
                     for i, c in zip(ids.tolist(), counts.tolist())})
        mmcv.imwrite(res['visualization'][..., ::-1], vis_path)
    else:
        from mmpretrain.apis import ImageClassificationInferencer
        # what mmpretrain's get_model attaches to the models it builds
        model._config = model.cfg
        model._dataset_meta = getattr(model, 'dataset_meta', {})
        inferencer = ImageClassificationInferencer(model, pretrained=False)
        # mmpretrain's visualizer writes <show_dir>/<image stem>.png
        pred = inferencer(args.img, show_dir=args.out_dir)[0]
        os.replace(osp.join(args.out_dir, f'{name}.png'), vis_path)
        scores = np.asarray(pred['pred_scores'])
        classes = inferencer.classes or [str(i) for i in range(len(scores))]
        top = np.argsort(-scores)[:args.topk]
        out = dict(topk=[
            dict(label=int(i), score=round(float(scores[i]), 4),
                 **{'class': classes[int(i)]}) for i in top
        ])
    json_path = osp.join(args.out_dir, f'{name}.json')
    with open(json_path, 'w') as f:
        json.dump(out, f, indent=1)
    print(f'wrote {vis_path} and {json_path}')


if __name__ == '__main__':
    main()
