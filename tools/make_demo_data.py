"""Write the embedded demo detection set in COCO 2017 layout.

    python tools/make_demo_data.py [--out data/demo_coco] [--num-train 96]
        [--num-val 24] [--size 320 256] [--seed 0]

See ``mmcrossformer/utils/demo_coco.py`` for what it contains.
"""
import argparse

from mmcrossformer.utils.demo_coco import make_demo_coco


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/demo_coco')
    parser.add_argument('--num-train', type=int, default=96)
    parser.add_argument('--num-val', type=int, default=24)
    parser.add_argument('--size', type=int, nargs=2, default=(320, 256),
                        metavar=('WIDTH', 'HEIGHT'))
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    files = make_demo_coco(args.out, args.num_train, args.num_val,
                           tuple(args.size), args.seed)
    print(f'demo COCO set ready: {files["train"]}, {files["val"]}')


if __name__ == '__main__':
    main()
