"""Command line: ``python -m fastnn bench [--workloads W1,W3] [--quick] [--repeat N] [--json FILE]``."""
import argparse
import sys

from . import bench


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastnn")
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("bench", help="training throughput against the NumPy reference")
    b.add_argument("--workloads", help="comma-separated workload ids (default: all)")
    b.add_argument("--quick", action="store_true", help="a tenth of the epochs")
    b.add_argument("--repeat", type=int, default=3, help="interleaved runs per implementation")
    b.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    ids = args.workloads.split(",") if args.workloads else None
    try:
        bench.run(ids, quick=args.quick, repeat=args.repeat, json_path=args.json)
    except ValueError as error:
        parser.error(str(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
