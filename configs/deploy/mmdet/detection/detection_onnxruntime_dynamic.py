# mmdet detector -> ONNX Runtime with dynamic batch, height and width
# (mmdeploy 1.3.1's configs/mmdet/_base_/base_dynamic.py + onnxruntime).
# CrossFormer / CrossFormer++ only, and only for inputs whose short side is
# at least 225 pixels (every stage's map larger than the group size 7):
# the traced graph computes padding and padding masks from the input size,
# but keeps the branches of the export size (docs/en/deployment.md,
# "Dynamic shapes"). Export at a size that pads in every stage, e.g.
# 800x1216 or 320x320 (the image given to torch2onnx, after the model
# config's test pipeline), not at 448x448 or other multiples of 224. Not
# for CrossViT (its graph serves a lattice of sizes only).
_base_ = ['./detection_onnxruntime_static-800x1216.py']
onnx_config = dict(
    input_shape=None,
    dynamic_axes=dict(
        input=dict({0: 'batch', 2: 'height', 3: 'width'}),
        dets=dict({0: 'batch', 1: 'num_dets'}),
        labels=dict({0: 'batch', 1: 'num_dets'})))
