"""Command line:

``python -m fastnn demo [NAME] [--out DIR] [--quick]``
``python -m fastnn bench [--workloads W1,W3] [--quick] [--repeat N] [--json FILE] [--peers]
[--blas-native] [--startup] [--latency] [--stack] [--search]``
``python -m fastnn sweep [--quick] [--plot FILE]``
``python -m fastnn compile [--dtype float32|float64]``
"""
import argparse
import sys

from . import bench, compile as compile_kernels, demo, latency, searches, stacks, startup, sweep


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastnn")
    commands = parser.add_subparsers(dest="command", required=True)
    d = commands.add_parser(
        "demo", help="the tutorials on fastnn, timed against the NumPy reference, with pictures",
        description="Run the tutorials' experiments on fastnn.MLP, print what the tutorials "
                    "printed and the time the NumPy reference takes for the same work, and "
                    "write their pictures as PNG files (with matplotlib).")
    d.add_argument("name", nargs="?", choices=list(demo.TUTORIALS), metavar="NAME",
                   help="one tutorial (default: all): " + ", ".join(
                       f"{name} (tutorial {t.seed}: {t.workload.title.partition(', ')[2]})"
                       for name, t in demo.TUTORIALS.items()))
    d.add_argument("--out", metavar="DIR", default=".",
                   help="folder for the PNG files (default: the current folder)")
    d.add_argument("--quick", action="store_true",
                   help="a tenth of the epochs (the tutorials' results need the full runs)")
    b = commands.add_parser("bench", help="training throughput against plain NumPy and the "
                                          "NumPy reference")
    b.add_argument("--workloads", help="comma-separated workload ids (default: all)")
    b.add_argument("--quick", action="store_true", help="a tenth of the epochs")
    b.add_argument("--repeat", type=int, default=3, help="interleaved runs per implementation")
    b.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    b.add_argument("--peers", action="store_true",
                   help="also PyTorch (1 thread and default threads), JAX and scikit-learn's "
                        "MLPClassifier, where installed")
    b.add_argument("--blas-native", action="store_true",
                   help="run in a worker process without " + " and ".join(bench.BLAS_SETTINGS)
                        + ", so OpenBLAS picks its kernels for this CPU")
    b.add_argument("--startup", action="store_true",
                   help="instead: each path's first call in a new process, with an empty and "
                        "a filled Numba cache (and what the cold call compiled), beside "
                        "scikit-learn's first fit and numba's own first call")
    b.add_argument("--latency", action="store_true",
                   help="instead: prediction latency (one row) and throughput (1,000 rows) of "
                        "fastnn's estimator and forward beside scikit-learn and onnxruntime "
                        "(needs scikit-learn; onnxruntime with skl2onnx where installed)")
    b.add_argument("--stack", action="store_true",
                   help="instead: many networks at once, fastnn.MLPStack (32 x W3, 8 x W6) "
                        "against as many fastnn.MLP fits one after another, one alone and "
                        "torch.func.vmap (where installed); with --quick and --repeat")
    b.add_argument("--search", action="store_true",
                   help="instead: a hyperparameter search (GridSearchCV, load_digits, 12 "
                        "candidates x 3 folds) by fastnn.model_selection against scikit-learn's "
                        "over fastnn's estimator and over its own (needs scikit-learn); with "
                        "--quick, --repeat and --blas-native")
    s = commands.add_parser("sweep", help="cost against width, depth, batch size and samples")
    s.add_argument("--quick", action="store_true", help="short runs, no repeats")
    s.add_argument("--plot", metavar="FILE", help="also plot the sweep to FILE (needs matplotlib)")
    c = commands.add_parser(
        "compile", help="compile every path's kernels into Numba's cache (for images, CI and "
                        "cluster workers)",
        description="Compile the kernels of every path into Numba's cache (NUMBA_CACHE_DIR, or "
                    "the package's __pycache__ folders), so that later processes load them.")
    c.add_argument("--dtype", choices=compile_kernels.DTYPES,
                   help="only this dtype (default: both)")
    args = parser.parse_args(argv)
    if args.command == "compile":
        compile_kernels.run((args.dtype,) if args.dtype else compile_kernels.DTYPES)
        return 0
    if args.command == "demo":
        demo.run([args.name] if args.name else None, folder=args.out, quick=args.quick)
        return 0
    if args.command == "sweep":
        sweep.run(quick=args.quick, plot_path=args.plot)
        return 0
    if args.startup:
        startup.run()
        return 0
    if args.latency:
        latency.run(blas_native=args.blas_native, quick=args.quick)
        return 0
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    if args.stack:
        stacks.run(quick=args.quick, repeat=args.repeat)
        return 0
    if args.search:
        searches.run(blas_native=args.blas_native, quick=args.quick, repeat=args.repeat)
        return 0
    ids = args.workloads.split(",") if args.workloads else None
    try:
        bench.run(ids, quick=args.quick, repeat=args.repeat, json_path=args.json, peers=args.peers,
                  blas_native=args.blas_native)
    except ValueError as error:
        parser.error(str(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
