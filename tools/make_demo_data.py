"""Write an embedded demo set in the exact layout of a real dataset.

    python tools/make_demo_data.py                  # -> data/demo_coco
    python tools/make_demo_data.py --kind ade20k    # -> data/demo_ade20k
    python tools/make_demo_data.py --kind imagenet  # -> data/demo_imagenet
    options: [--out DIR] [--num-train N] [--num-val N] [--size W H] [--seed S]

For COCO and ADE20K the counts are images; for ImageNet, images per class.
See ``mmcrossformer/testing/demo_{coco,ade20k,imagenet}.py`` for the
content.
"""
import argparse

KINDS = {
    # kind: (module, function, default out, train, val, (width, height))
    'coco': ('demo_coco', 'make_demo_coco', 'data/demo_coco', 96, 24,
             (320, 256)),
    'ade20k': ('demo_ade20k', 'make_demo_ade20k', 'data/demo_ade20k', 32, 8,
               (160, 128)),
    'imagenet': ('demo_imagenet', 'make_demo_imagenet', 'data/demo_imagenet',
                 16, 4, (96, 96)),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--kind', choices=sorted(KINDS), default='coco')
    parser.add_argument('--out', help='dataset root (default per kind)')
    parser.add_argument('--num-train', type=int)
    parser.add_argument('--num-val', type=int)
    parser.add_argument(
        '--size', type=int, nargs=2, metavar=('WIDTH', 'HEIGHT'))
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    module, func, out, n_train, n_val, size = KINDS[args.kind]
    import importlib
    make = getattr(
        importlib.import_module(f'mmcrossformer.testing.{module}'), func)
    result = make(args.out or out, args.num_train or n_train, args.num_val
                  or n_val, tuple(args.size or size), args.seed)
    print(f'demo {args.kind} set ready: {result}')


if __name__ == '__main__':
    main()
