import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F


def build(**kwargs):
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    import mmcrossformer  # noqa: F401
    cfg = dict(type='mmcrossformer.CrossViTClsHead', num_classes=5,
               in_channels=(8, 16))
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def test_importing_package_does_not_import_mmpretrain():
    code = ('import sys, mmcrossformer; '
            'bad = [m for m in ("mmpretrain", "mmdet", "mmseg") '
            'if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_is_mmpretrain_cls_head_and_averages_logits():
    from mmpretrain.models.heads import ClsHead

    from mmcrossformer.models.heads import CrossViTClsHead
    head = build()
    assert isinstance(head, CrossViTClsHead) and isinstance(head, ClsHead)
    assert head.fcs[0].weight.std() > 0 and head.fcs[0].bias.abs().sum() == 0
    torch.nn.init.normal_(head.fcs[1].bias)
    small, large = torch.randn(3, 8), torch.randn(3, 16)
    # earlier backbone outputs are ignored, the last one is used
    feats = ((torch.zeros(3, 8), torch.zeros(3, 16)), (small, large))
    logits = head(feats)
    ref = (head.fcs[0](small) + head.fcs[1](large)) / 2
    torch.testing.assert_close(logits, ref)
    assert logits.shape == (3, 5)


def test_loss_on_the_mean_of_logits():
    from mmpretrain.structures import DataSample
    head = build(loss=dict(type='CrossEntropyLoss', loss_weight=1.0))
    torch.manual_seed(0)
    small = torch.randn(4, 8, requires_grad=True)
    large = torch.randn(4, 16, requires_grad=True)
    labels = [0, 3, 1, 4]
    samples = [DataSample().set_gt_label(i) for i in labels]
    losses = head.loss(((small, large), ), samples)
    mean = (head.fcs[0](small) + head.fcs[1](large)) / 2
    ref = F.cross_entropy(mean, torch.tensor(labels))
    torch.testing.assert_close(losses['loss'], ref)
    # not the mean of per-branch losses
    per_branch = (F.cross_entropy(head.fcs[0](small), torch.tensor(labels)) +
                  F.cross_entropy(head.fcs[1](large), torch.tensor(labels)))
    assert not torch.allclose(losses['loss'], per_branch / 2)
    losses['loss'].backward()
    assert small.grad.abs().sum() > 0 and large.grad.abs().sum() > 0
    preds = head.predict(((small, large), ))
    assert preds[0].pred_score.shape == (5, )


def test_rejects_wrong_input():
    head = build()
    with pytest.raises(ValueError, match='2 CLS tokens'):
        head((torch.randn(2, 8), ))
    with pytest.raises(ValueError, match='2 CLS tokens'):
        head(((torch.randn(2, 8), ), ))
    with pytest.raises(ValueError, match='num_classes'):
        build(num_classes=0)
