# mmpretrain classifier -> ONNX Runtime, static 224x224 (mmdeploy 1.3.1's
# configs/mmpretrain/classification_static.py + onnxruntime). Output
# 'output': (1, num_classes) class scores after the head's softmax.
_base_ = ['../_base_/onnx_config.py']
onnx_config = dict(input_shape=[224, 224])
codebase_config = dict(type='mmpretrain', task='Classification')
