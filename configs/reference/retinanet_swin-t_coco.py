# Reference for tools/analysis_tools/benchmark.py: mmdet's RetinaNet with a
# Swin-T backbone (1x schedule), unchanged; compare with
# configs/retinanet_crossformerpp_s_coco.py at detection sizes.
#   python tools/analysis_tools/benchmark.py \
#       configs/retinanet_crossformerpp_s_coco.py \
#       --compare configs/reference/retinanet_swin-t_coco.py --shape 800 1216
_base_ = ['mmdet::swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py']
