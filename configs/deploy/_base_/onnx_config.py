# ONNX export settings shared by the deploy configs of this folder, in
# mmdeploy 1.3.1's format (its configs/_base_/onnx_config.py and
# configs/_base_/backends/onnxruntime.py; the mmdeploy wheel does not ship
# them, so the settings are repeated here). Differences from mmdeploy's:
# opset 17 instead of 11 (CrossFormer and CrossViT call
# scaled_dot_product_attention, opset >= 14; 17 has LayerNormalization).
# torch >= 2.9 defaults torch.onnx.export to the dynamo exporter, which
# mmdeploy cannot use: export inside
# mmcrossformer.deployment.torchscript_onnx_export() (docs/en/deployment.md).
onnx_config = dict(
    type='onnx',
    export_params=True,
    keep_initializers_as_inputs=False,
    opset_version=17,
    save_file='end2end.onnx',
    input_names=['input'],
    output_names=['output'],
    # [width, height] of a static export; None: the size of the image given
    # to torch2onnx after the model config's test pipeline
    input_shape=None,
    # mmdeploy's ONNX optimiser needs its TorchScript extension, which the
    # 1.3.1 wheel lacks for torch 2.9 ("Can not optimize model")
    optimize=False)
backend_config = dict(type='onnxruntime')
