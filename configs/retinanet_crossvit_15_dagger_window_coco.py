# RetinaNet + CrossViT-15† with windowed attention, COCO 2017, 1x schedule.
# Everything as retinanet_crossvit_15_dagger_coco.py (_base_) except the
# attention of the dense backbone. CrossViT has no official dense
# recipe; the windowing is ViTDet's (Li et al., "Exploring Plain Vision
# Transformer Backbones for Object Detection", ECCV 2022, Sec. 3: window
# attention in most layers, global attention in a few, no new parameters):
# - windows of 28 tokens on the stride-8 small branch and 14 tokens on the
#   stride-16 large branch: both 224 x 224 input pixels, ViTDet's 14 x 14
#   windows of stride-16 tokens, so a small-branch window covers exactly
#   one large-branch window; anchored at the top-left token, padded tokens
#   masked;
# - global attention in the last layer of each encoder of the large branch
#   (layers 4, 9 and 14 of its 15; ViTDet: 4 of 12, evenly spaced); the
#   small branch (3 layers over ~15.2k tokens at 800x1216) has none, each
#   global layer there would cost ~89 GFLOPs;
# - the CLS tokens stay global (they attend to every token and are a key of
#   every window) and the cross-attention fusions are unchanged.
# Trade-off: at 800x1216 the backbone costs ~0.3x the FLOPs of the global
# configuration and trains several times faster (configs/crossvit/README.md),
# but windowed attention is not the computation the ImageNet weights were
# trained with (global attention): expect some accuracy cost; no trained
# result exists for either setting.
_base_ = './retinanet_crossvit_15_dagger_coco.py'

model = dict(
    backbone=dict(
        dense_window_size=(28, 14), dense_global_layers=((), (4, 9, 14))))
