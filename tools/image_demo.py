"""Run a model of any family on one image; save the picture and a JSON.

    python tools/image_demo.py IMG CONFIG [--weights CKPT] [--out-dir DIR]
        [--device cpu|cuda] [--score-thr 0.3] [--topk 5]

The inferencer of the config's package does the work (mmdet
``DetInferencer``, mmseg ``MMSegInferencer``, mmpretrain
``ImageClassificationInferencer``), chosen by the config's
``default_scope``. Written to ``--out-dir`` (default ``outputs/``):

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
import json
import os
import os.path as osp

import numpy as np


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('img', help='image file')
    parser.add_argument('config', help='config of any family')
    parser.add_argument('--weights', help='checkpoint (random weights if '
                        'omitted)')
    parser.add_argument('--out-dir', default='outputs')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--topk', type=int, default=5)
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


def check_weights(model, weights: str):
    """Stop when ``weights`` do not fit the model the config builds."""
    from mmengine.runner.checkpoint import _load_checkpoint

    from mmcrossformer.utils.state_dict import mismatch_report
    ckpt = _load_checkpoint(weights, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    report = mismatch_report(model, state)
    if report:
        raise ValueError(f'{weights} does not fit the model of the config: '
                         f'{report}')


def main():
    args = parse_args()
    from mmengine.config import Config

    from mmcrossformer.utils import flush_denormals_on_cpu, trust_work_dir
    flush_denormals_on_cpu()
    read_image(args.img)  # checks the file; inferencers read paths
    cfg = Config.fromfile(args.config)
    scope = cfg.get('default_scope')
    os.makedirs(args.out_dir, exist_ok=True)
    trust_work_dir(args.out_dir)  # installs the by-source checkpoint loader
    if args.weights and not osp.isfile(args.weights):
        raise FileNotFoundError(f'weights {args.weights} do not exist')
    name = osp.splitext(osp.basename(args.img))[0]
    vis_path = osp.join(args.out_dir, f'{name}_vis.png')

    import mmcv
    if scope == 'mmdet':
        from mmdet.apis import DetInferencer
        # the model's own test threshold must not hide boxes above --score-thr
        test_cfg = cfg.model.get('test_cfg') or {}
        for node in (test_cfg, test_cfg.get('rcnn') or {}):
            if 'score_thr' in node:
                node['score_thr'] = min(node['score_thr'], args.score_thr)
        inferencer = DetInferencer(
            model=cfg, weights=args.weights, device=args.device)
        if args.weights:
            check_weights(inferencer.model, args.weights)
        res = inferencer(
            args.img, return_vis=True, pred_score_thr=args.score_thr,
            no_save_vis=True)
        pred = res['predictions'][0]
        classes = inferencer.model.dataset_meta['classes']
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
        from mmseg.registry import DATASETS
        meta = DATASETS.get(cfg.test_dataloader.dataset.type).METAINFO
        inferencer = MMSegInferencer(
            model=cfg,
            weights=args.weights,
            classes=list(meta['classes']),
            palette=list(meta['palette']),
            device=args.device)
        if args.weights:
            check_weights(inferencer.model, args.weights)
        res = inferencer(args.img, return_vis=True)
        label = np.asarray(res['predictions']).astype(np.uint8)
        classes = meta['classes']
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
    elif scope == 'mmpretrain':
        from mmpretrain.apis import ImageClassificationInferencer
        inferencer = ImageClassificationInferencer(
            model=cfg, pretrained=args.weights or False, device=args.device)
        if args.weights:
            check_weights(inferencer.model, args.weights)
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
    else:
        raise ValueError(f'{args.config}: unsupported default_scope {scope!r}'
                         f' (mmdet, mmseg or mmpretrain)')
    json_path = osp.join(args.out_dir, f'{name}.json')
    with open(json_path, 'w') as f:
        json.dump(out, f, indent=1)
    print(f'wrote {vis_path} and {json_path}')


if __name__ == '__main__':
    main()
