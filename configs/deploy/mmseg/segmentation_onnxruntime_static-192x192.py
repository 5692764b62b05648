# As segmentation_onnxruntime_static-576x576.py at 192x192 (stride-32 map
# 6x6): a small size for quick checks (the tests' size).
_base_ = ['./segmentation_onnxruntime_static-576x576.py']
onnx_config = dict(input_shape=[192, 192])
