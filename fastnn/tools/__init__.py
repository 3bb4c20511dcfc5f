"""fastnn's tools, apart from the library: the benchmark workloads (workloads), the
benchmark against the NumPy reference and peers (bench, peers), the cost sweep (sweep), the
tutorials on fastnn (demo) and the command line (cli, ``python -m fastnn``)."""
