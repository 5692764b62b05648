# mmseg segmentor -> ONNX Runtime, static 576x576 (mmdeploy 1.3.1's
# configs/mmseg/segmentation_static.py + onnxruntime). Output 'output'
# (1, 1, H, W): the label map (argmax in the graph, with_argmax=True).
# UPerNet: mmdeploy replaces the pyramid pooling's adaptive average pooling
# (scales 1, 2, 3, 6) by average pooling with kernel floor(size / scale),
# which equals it only when the stride-32 map is a multiple of 6 on both
# sides: 576 = 32 * 18 (mmdeploy's usual 512x512 gives 16x16 and a
# different model). docs/en/deployment.md has the numbers.
_base_ = ['../_base_/onnx_config.py']
onnx_config = dict(input_shape=[576, 576])
codebase_config = dict(type='mmseg', task='Segmentation', with_argmax=True)
