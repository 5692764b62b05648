"""tools/deployment/deploy.py exports with mmdeploy, runs ONNX Runtime and
draws the result (slow: one RetinaNet export)."""
import os.path as osp

import pytest

from mmcrossformer.testing.runs import REPO, run_tool

pytest.importorskip('mmdeploy')


@pytest.mark.slow
def test_deploy_tool_exports_runs_and_draws(tmp_path):
    import mmcv
    from skimage import data
    img = str(tmp_path / 'astronaut.jpg')
    mmcv.imwrite(data.astronaut()[:, :, ::-1], img)
    out = run_tool(
        'deployment/deploy.py',
        osp.join(REPO, 'configs/deploy/mmdet/detection/'
                 'detection_onnxruntime_static-320x320.py'),
        osp.join(REPO, 'configs/retinanet_crossformerpp_s_coco.py'), 'none',
        img, '--work-dir', str(tmp_path / 'work'), '--show-out',
        str(tmp_path / 'drawn.jpg'), '--cfg-options',
        'model.test_cfg.score_thr=0.005')
    assert osp.getsize(tmp_path / 'work' / 'end2end.onnx') > 1e6
    assert 'ONNX Runtime on' in out and ' detections' in out, out[-2000:]
    assert mmcv.imread(str(tmp_path / 'drawn.jpg')).shape == (512, 512, 3)


def test_deploy_tool_refuses_a_missing_checkpoint(tmp_path):
    with pytest.raises(AssertionError, match='does not exist'):
        run_tool('deployment/deploy.py',
                 osp.join(REPO, 'configs/deploy/mmpretrain/'
                          'classification_onnxruntime_static.py'),
                 osp.join(REPO, 'configs/crossformerpp_s_in1k.py'),
                 str(tmp_path / 'missing.pth'), str(tmp_path / 'x.jpg'))
