"""Command line:

``python -m fastnn bench [--workloads W1,W3] [--quick] [--repeat N] [--json FILE] [--peers]``
``python -m fastnn sweep [--quick] [--plot FILE]``
"""
import argparse
import sys

from . import bench, sweep


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastnn")
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("bench", help="training throughput against the NumPy reference")
    b.add_argument("--workloads", help="comma-separated workload ids (default: all)")
    b.add_argument("--quick", action="store_true", help="a tenth of the epochs")
    b.add_argument("--repeat", type=int, default=3, help="interleaved runs per implementation")
    b.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    b.add_argument("--peers", action="store_true",
                   help="also PyTorch (1 thread and default threads) and scikit-learn's "
                        "MLPClassifier, where installed")
    s = commands.add_parser("sweep", help="cost against width, depth, batch size and samples")
    s.add_argument("--quick", action="store_true", help="short runs, no repeats")
    s.add_argument("--plot", metavar="FILE", help="also plot the sweep to FILE (needs matplotlib)")
    args = parser.parse_args(argv)
    if args.command == "sweep":
        sweep.run(quick=args.quick, plot_path=args.plot)
        return 0
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    ids = args.workloads.split(",") if args.workloads else None
    try:
        bench.run(ids, quick=args.quick, repeat=args.repeat, json_path=args.json, peers=args.peers)
    except ValueError as error:
        parser.error(str(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
