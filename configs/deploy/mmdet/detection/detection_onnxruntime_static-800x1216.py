# mmdet detector -> ONNX Runtime with mmdeploy's box decoding and NMS in the
# graph, static 800x1216 (H x W; mmdeploy 1.3.1's
# configs/mmdet/_base_/base_static.py + onnxruntime). Outputs 'dets'
# (1, N, 5): x1, y1, x2, y2, score in the input's pixels, and 'labels'
# (1, N). The export's score threshold, IoU threshold, per-level top-k and
# final top-k come from the model config's test_cfg (score_thr, nms,
# nms_pre, max_per_img); post_processing below fills what test_cfg lacks.
_base_ = ['../../_base_/onnx_config.py']
onnx_config = dict(output_names=['dets', 'labels'], input_shape=[1216, 800])
codebase_config = dict(
    type='mmdet',
    task='ObjectDetection',
    model_type='end2end',
    post_processing=dict(
        score_threshold=0.05,
        confidence_threshold=0.005,
        iou_threshold=0.5,
        max_output_boxes_per_class=200,
        pre_top_k=5000,
        keep_top_k=100,
        background_label_id=-1))
