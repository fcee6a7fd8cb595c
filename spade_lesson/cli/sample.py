"""`spade-lesson sample`: an official NVlabs/SPADE generator run on label-map PNGs (spade_lesson.official.sample)."""

from __future__ import annotations

from spade_lesson.cli.parser import OneLineParser
from spade_lesson.official import sample


def run(argv: list[str]) -> int:
    """`spade-lesson sample --checkpoint latest_net_G.pth --opt opt.txt --labels a.png ... --out DIR`."""
    parser = OneLineParser(
        prog="spade-lesson sample",
        description="Run an official NVlabs/SPADE generator on label-map PNGs (official class ids) and write images.")
    parser.add_argument("--checkpoint", required=True, help="the official latest_net_G.pth")
    parser.add_argument("--opt", required=True, help="the official opt.txt saved with the checkpoint")
    parser.add_argument("--labels", nargs="+", required=True,
                        help="single-channel PNGs of class ids 0..label_nc-1 as the official data loaders produce "
                             "them (255 = don't care; ADE20K's raw maps need 1 subtracted, their 0 becoming 255)")
    parser.add_argument("--instances", nargs="*", default=None,
                        help="instance-id PNGs, one per label map (when the model uses instance maps; "
                             "without them the class boundaries are used)")
    parser.add_argument("--out", required=True, help="folder for the generated PNGs (<label stem>.png)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto (default: cpu)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the style code z of VAE models (default: 0)")
    args = parser.parse_args(argv)
    for path in sample(args.checkpoint, args.opt, args.labels, args.out, instances=args.instances, device=args.device,
                       seed=args.seed):
        print(f"wrote {path}")
    return 0
