# As instance-seg_onnxruntime_static-800x1216.py at 320x320 (H x W): a
# small size for quick checks (the tests' size).
_base_ = ['./instance-seg_onnxruntime_static-800x1216.py']
onnx_config = dict(input_shape=[320, 320])
