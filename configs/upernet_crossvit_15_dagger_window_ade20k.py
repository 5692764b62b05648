# UPerNet + CrossViT-15† with windowed attention, ADE20K, 160k iterations.
# Everything as upernet_crossvit_15_dagger_ade20k.py (_base_) except the
# attention of the dense backbone. CrossViT has no official dense
# recipe; the windowing is ViTDet's (Li et al., "Exploring Plain Vision
# Transformer Backbones for Object Detection", ECCV 2022, Sec. 3: window
# attention in most layers, global attention in a few, no new parameters):
# - windows of 32 tokens on the stride-8 small branch and 16 tokens on the
#   stride-16 large branch: both 256 x 256 input pixels, so the 512 x 512
#   training crop is exactly 2 x 2 windows on both branches (no padded
#   window tokens) and a small-branch window covers exactly one
#   large-branch window; anchored at the top-left token, padded tokens
#   masked;
# - global attention in the last layer of each encoder of the large branch
#   (layers 4, 9 and 14 of its 15; ViTDet: 4 of 12, evenly spaced); the
#   small branch has none;
# - the CLS tokens stay global (they attend to every token and are a key of
#   every window) and the cross-attention fusions are unchanged.
# Trade-off: the backbone costs less than half the FLOPs of the global
# configuration at 512x2048 (configs/crossvit/README.md), but windowed
# attention is not the computation the ImageNet weights were trained with
# (global attention): expect some accuracy cost; no trained result exists
# for either setting.
_base_ = './upernet_crossvit_15_dagger_ade20k.py'

model = dict(
    backbone=dict(
        dense_window_size=(32, 16), dense_global_layers=((), (4, 9, 14))))
