"""Bad input to CrossFormer gets a clear error naming the bad value: an
image smaller than the total stride, a checkpoint of another arch or task.

Unknown / incomplete arch, out_indices, frozen_stages and wrong channels are
covered in test_crossformer.py."""
import copy

import pytest
import torch

from mmcrossformer.models import CrossFormer

TINY = dict(embed_dims=32, depths=[1, 1, 1, 1], num_heads=[1, 2, 4, 8],
            group_size=[4, 4, 4, 4], interval=[2, 2, 1, 1])


def test_input_smaller_than_total_stride():
    model = CrossFormer(arch=copy.deepcopy(TINY)).eval()
    with pytest.raises(ValueError, match='16x64 .*total stride 32'):
        model(torch.rand(1, 3, 16, 64))
    assert len(model(torch.rand(1, 3, 32, 33))) == 4


def test_checkpoint_of_another_arch_or_task(tmp_path):
    other = CrossFormer(arch=dict(TINY, embed_dims=64, num_heads=[2, 4, 8,
                                                                  16]))
    ckpt = tmp_path / 'other_arch.pth'
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in other.state_dict().items()}},
               ckpt)
    model = CrossFormer(
        arch=copy.deepcopy(TINY),
        init_cfg=dict(type='Pretrained', checkpoint=str(ckpt),
                      prefix='backbone.'))
    with pytest.raises(ValueError, match='wrong shape keys.*patch_embed'):
        model.init_weights()
    # a detector checkpoint whose backbone has ACL layers the model lacks
    acl = CrossFormer(arch=dict(TINY, depths=[1, 1, 4, 1], use_acl=True))
    det = {f'backbone.{k}': v for k, v in acl.state_dict().items()}
    det['neck.lateral_convs.0.conv.weight'] = torch.zeros(1)
    torch.save({'state_dict': det}, tmp_path / 'det.pth')
    model = CrossFormer(
        arch=dict(TINY, depths=[1, 1, 4, 1]),
        init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'det.pth'),
                      prefix='backbone.'))
    with pytest.raises(ValueError, match=r'unexpected keys.*acl\.conv'):
        model.init_weights()
    model = CrossFormer(
        arch=copy.deepcopy(TINY),
        init_cfg=dict(type='Pretrained', checkpoint=str(ckpt),
                      prefix='model.'))
    with pytest.raises(ValueError, match="prefix 'model.'"):
        model.init_weights()
