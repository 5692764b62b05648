"""Export a model with mmdeploy to ONNX Runtime and run it on an image.

The mmdeploy 1.3.1 wheel ships no ``tools/deploy.py``; this script does its
ONNX Runtime part with mmdeploy's own API (``torch2onnx``, then
``inference_model`` and the task processor's visualiser), with the
TorchScript exporter switched on for torch >= 2.9
(``mmcrossformer.deployment.torchscript_onnx_export``).

Example (DEPLOY = configs/deploy/mmdet/detection/, the 800x1216 file):
    python tools/deployment/deploy.py \\
        $DEPLOY/detection_onnxruntime_static-800x1216.py \\
        configs/retinanet_crossformerpp_s_coco.py CKPT.pth demo.jpg \\
        --work-dir work_dirs/retinanet_ort --show-out retinanet_ort.jpg

See docs/en/deployment.md.
"""
import argparse
import os.path as osp
import sys
import time

from mmcrossformer.utils.cli import add_cfg_options


def parse_args():
    parser = argparse.ArgumentParser(
        description='Export with mmdeploy (ONNX Runtime) and check the '
        'exported model on an image.')
    parser.add_argument('deploy_cfg', help='a configs/deploy/ file')
    parser.add_argument('model_cfg', help='the model config')
    parser.add_argument('checkpoint', help='weights file, or "none" for '
                        "the model's random init (an export check only)")
    parser.add_argument('img', help='image traced through the test pipeline')
    parser.add_argument('--work-dir', default='work_dirs/deploy',
                        help='where end2end.onnx goes')
    parser.add_argument('--test-img', default=None,
                        help='image to run the exported model on '
                        '(default: img)')
    parser.add_argument('--show-out', default=None,
                        help='write ONNX Runtime\'s prediction drawn on '
                        'the test image to this file')
    add_cfg_options(
        parser, 'override model config keys, e.g. '
        'model.test_cfg.score_thr=0.3')
    return parser.parse_args()


def main():
    args = parse_args()
    checkpoint = None if args.checkpoint == 'none' else args.checkpoint
    for path in (args.img, args.test_img, checkpoint):
        if path is not None and not osp.isfile(path):
            sys.exit(f'error: {path} does not exist')
    import mmcv
    from mmdeploy.apis import inference_model, torch2onnx
    from mmdeploy.apis.utils import build_task_processor
    from mmdeploy.utils import load_config

    from mmcrossformer.deployment import torchscript_onnx_export

    deploy_cfg, model_cfg = load_config(args.deploy_cfg, args.model_cfg)
    if args.cfg_options:
        model_cfg.merge_from_dict(args.cfg_options)
    save_file = deploy_cfg.onnx_config.save_file
    start = time.perf_counter()
    with torchscript_onnx_export():
        torch2onnx(args.img, args.work_dir, save_file, deploy_cfg, model_cfg,
                   checkpoint, device='cpu')
    onnx_file = osp.join(args.work_dir, save_file)
    print(f'exported {onnx_file} in {time.perf_counter() - start:.1f} s')

    test_img = args.test_img or args.img
    result = inference_model(model_cfg, deploy_cfg, [onnx_file], test_img,
                             'cpu')[0]
    print(f'ONNX Runtime on {test_img}: {_summary(result)}')
    if args.show_out:
        processor = build_task_processor(model_cfg, deploy_cfg, 'cpu')
        processor.visualize(
            image=mmcv.imread(test_img), result=result,
            output_file=args.show_out, window_name='onnxruntime',
            show_result=False)
        print(f'drawn to {args.show_out}')


def _summary(result) -> str:
    """One line about a data sample: detections, label map or top class."""
    if 'pred_instances' in result:
        scores = result.pred_instances.scores
        top = f', top score {float(scores.max()):.3f}' if len(scores) else ''
        return f'{len(scores)} detections{top}'
    if 'pred_sem_seg' in result:
        labels = result.pred_sem_seg.data.unique().tolist()
        return f'label map {tuple(result.pred_sem_seg.shape)}, labels {labels}'
    score = result.pred_score
    return f'class {int(score.argmax())}, score {float(score.max()):.3f}'


if __name__ == '__main__':
    main()
