"""`spade-lesson sample`: a trained generator run on label-map PNGs, in one style, an image's style, or N random
styles (spade_lesson.checkpoints.sampling.sample)."""

from __future__ import annotations

from spade_lesson.cli.parser import OneLineParser


def run(argv: list[str]) -> int:
    """spade-lesson sample --checkpoint CKPT [--opt opt.txt] --labels PNG... --out DIR [--style IMAGE | --styles N]."""
    parser = OneLineParser(
        prog="spade-lesson sample",
        description="Run a trained SPADE generator on label-map PNGs and write images: a spade-lesson checkpoint "
                    "(checkpoint.pt of a run, or the shipped one), or an official NVlabs/SPADE latest_net_G.pth with "
                    "its opt.txt.")
    parser.add_argument("--checkpoint", required=True,
                        help="a spade-lesson checkpoint.pt, or the official latest_net_G.pth (with --opt)")
    parser.add_argument("--opt", default=None, help="the official opt.txt saved with an official checkpoint")
    parser.add_argument("--encoder", default=None,
                        help="an official VAE model's latest_net_E.pth, for --style/--styles (with --opt)")
    parser.add_argument("--labels", nargs="+", required=True,
                        help="single-channel PNGs of class ids 0..label_nc-1 as the data loaders produce them "
                             "(255 = don't care; ADE20K's raw maps need 1 subtracted, their 0 becoming 255)")
    parser.add_argument("--instances", nargs="*", default=None,
                        help="instance-id PNGs, one per label map (when the model uses instance maps; "
                             "without them the class boundaries are used)")
    styles = parser.add_mutually_exclusive_group()
    styles.add_argument("--style", default=None, metavar="IMAGE",
                        help="draw every map in this image's style (a model trained with the style encoder)")
    styles.add_argument("--styles", type=int, default=None, metavar="N",
                        help="draw every map in N random styles, <stem>_style<k>.png (the same N for every map)")
    parser.add_argument("--out", required=True, help="folder for the generated PNGs (<label stem>.png)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace <label stem>.png files already in --out (inputs are never written over)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto (default: cpu)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random styles z (default: 0)")
    args = parser.parse_args(argv)
    from spade_lesson.checkpoints.sampling import sample

    for path in sample(args.checkpoint, args.labels, args.out, opt=args.opt, encoder=args.encoder,
                       instances=args.instances, style=args.style, styles=args.styles, device=args.device,
                       seed=args.seed, overwrite=args.overwrite):
        print(f"wrote {path}")
    return 0
