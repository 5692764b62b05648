"""Deployment: ONNX export and checks without mmdeploy, and mmdeploy
(ONNX Runtime) compatibility with torch 2.9.

Not imported by ``mmcrossformer`` itself; importing this sub-package does
not import mmdeploy either. See docs/en/deployment.md.
"""
from .onnx_export import (
    ExportError,
    check_onnx,
    export_onnx,
    failed_guards,
    pytorch2onnx,
)
from .onnx_exporter import exporter_takes_dynamo, torchscript_onnx_export

__all__ = [
    'torchscript_onnx_export', 'exporter_takes_dynamo', 'ExportError',
    'pytorch2onnx', 'export_onnx', 'check_onnx', 'failed_guards'
]
