# mmdet instance segmentation (Mask R-CNN) -> ONNX Runtime, static 800x1216
# (H x W; mmdeploy 1.3.1's configs/mmdet/_base_/base_instance-seg_static.py
# + onnxruntime; mmdeploy 1.x runs instance segmentation as its
# ObjectDetection task, told apart by the 'masks' output). Outputs 'dets'
# (1, N, 5), 'labels' (1, N) and 'masks' (1, N, 28, 28): each box's
# mask-head probabilities, pasted into the image by mmdeploy's ONNX Runtime
# model (export_postprocess_mask=False). RPN and RoI-head thresholds come
# from the model config's test_cfg.
_base_ = ['../detection/detection_onnxruntime_static-800x1216.py']
onnx_config = dict(output_names=['dets', 'labels', 'masks'])
codebase_config = dict(post_processing=dict(export_postprocess_mask=False))
