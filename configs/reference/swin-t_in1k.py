# Reference for tools/analysis_tools/benchmark.py: mmpretrain's Swin-T
# ImageNet-1K classifier (4.5 GFLOPs at 224, the FLOP class of
# CrossFormer++-S, 4.9 GFLOPs), unchanged.
#   python tools/analysis_tools/benchmark.py configs/crossformerpp_s_in1k.py \
#       --compare configs/reference/swin-t_in1k.py --batch 8
_base_ = ['mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py']
