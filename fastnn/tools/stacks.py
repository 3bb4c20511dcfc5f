"""``python -m fastnn bench --stack``: many networks at once (fastnn.MLPStack).

For a stack of K copies of a workload's network (32 x W3: 10-10-10 per sample, SGD with
momentum; 8 x W6: 64-128-64-10 mini-batches of 32, float32), in one process, interleaved:
the stack's training; the same K networks trained one after another with fastnn.MLP (the
loop a user writes without MLPStack); one network alone; and, where PyTorch is installed,
the K networks' parameters stacked and trained together with ``torch.func.vmap`` (a
functional per-sample or per-batch SGD-with-momentum loop, as a torch user writes it, on one
torch thread; its losses equal the stack's). Each timed run follows QUIET_SECONDS of pause. The
metric is aggregate sample-steps per second (one sample through forward, backward and
update of one model); the median of the repeats is reported. Each model k draws the
shuffles fastnn.MLP.fit(seed=fit_seed + k) draws, so the stack's model k and the k-th
sequential fit do the same work, and their final losses are compared.
"""
import importlib.util
import statistics
import time
from dataclasses import dataclass

import numpy as np

from ..model import MLP
from ..optimizers import SGD
from .bench import QUIET_SECONDS
from .workloads import WORKLOADS


@dataclass(frozen=True)
class StackCase:
    workload: str
    n_models: int
    quick_epochs: int


CASES = [StackCase("W3", 32, 10), StackCase("W6", 8, 2)]


def _seconds(run):
    time.sleep(QUIET_SECONDS)
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def sequential(workload, data, epochs, n_models):
    """Train the K networks one after another with fastnn.MLP; returns the last model's
    final loss."""
    X, Y = data
    loss = None
    for k in range(n_models):
        net = workload.make_network(MLP)
        history = net.fit(X, Y, loss=workload.loss, optimizer=SGD(**workload.optimizer),
                          epochs=epochs, batch_size=workload.batch_size,
                          shuffle=workload.shuffle, reduction=workload.reduction,
                          seed=None if workload.fit_seed is None else workload.fit_seed + k)
        loss = history.loss[-1]
    return loss


def measure(case, quick=False, repeat=3, torch_peer=True):
    """The result row of one case."""
    workload = WORKLOADS[case.workload]
    data = workload.data(quick)
    epochs = case.quick_epochs if quick else workload.epochs
    K = case.n_models
    n = len(data[0])
    runs = {
        "stack": lambda: float(workload.train_stack(data, epochs, K)[1].loss[-1, -1]),
        "sequential": lambda: sequential(workload, data, epochs, K),
        "one": lambda: workload.train(MLP, data, epochs)[1].loss[-1],
    }
    notes = {}
    if torch_peer and importlib.util.find_spec("torch") is not None:
        torch_epochs = max(1, epochs // 10)  # a per-sample torch loop is slow: fewer epochs
        torch_run, notes["torch vmap"] = build_torch_vmap(workload, data, K)
        runs["torch vmap"] = lambda: torch_run(torch_epochs)
    else:
        torch_epochs = None
    for first in runs.values():  # compile, or load compiled code; warm caches
        first()
    times = {name: [] for name in runs}
    losses = {}
    for _ in range(repeat):
        for name, timed in runs.items():
            seconds, losses[name] = _seconds(timed)
            times[name].append(seconds)
    steps = {"stack": K * n * epochs, "sequential": K * n * epochs, "one": n * epochs,
             "torch vmap": K * n * (torch_epochs or 0)}
    rate = {name: steps[name] / statistics.median(t) for name, t in times.items()}
    row = {"workload": case.workload, "title": workload.title, "n_models": K,
           "epochs": epochs, "rates": rate, "notes": notes,
           "stack_vs_one": rate["stack"] / rate["one"],
           "stack_vs_sequential": rate["stack"] / rate["sequential"],
           "loss_rel_diff": abs(losses["stack"] - losses["sequential"]) / abs(losses["sequential"])}
    if "torch vmap" in rate:
        row["stack_vs_torch"] = rate["stack"] / rate["torch vmap"]
        row["torch_epochs"] = torch_epochs
    return row


def build_torch_vmap(workload, data, n_models):
    """(run, note): the workload's K networks in PyTorch, float as the workload, their
    parameters stacked along a leading model axis and the per-model gradient taken by
    torch.func.vmap(torch.func.grad(loss)); SGD with momentum as torch.optim.SGD, written
    out on the stacked tensors. ``run(epochs)`` returns the last model's last epoch loss."""
    import torch
    from torch.func import grad, vmap

    net = workload.make_network(MLP)
    weights, biases = net.get_params()
    dtype = torch.float32 if net.dtype == np.float32 else torch.float64
    X, Y = data
    n = len(X)
    T = net._targets(Y, workload.loss, n)
    Xt, Tt = torch.tensor(X, dtype=dtype), torch.tensor(T, dtype=dtype)
    hidden, output = net.layer_activations[0], net.output
    act = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[hidden]
    mean = workload.reduction == "mean"
    lr, momentum = workload.optimizer["lr"], workload.optimizer.get("momentum", 0.0)
    batch = workload.batch_size or n
    K = n_models

    def loss_of(params, x, t):
        a = x
        for layer in range(len(params) // 2):
            z = a @ params[2 * layer] + params[2 * layer + 1]
            a = act(z) if layer < len(params) // 2 - 1 else z
        if workload.loss == "binary_cross_entropy":  # from the logits, as fastnn
            total = (torch.nn.functional.softplus(a) - t * a).sum()
        elif workload.loss == "cross_entropy":
            total = -(t * torch.log_softmax(a, dim=-1)).sum()
        else:
            raise NotImplementedError(workload.loss)
        return total / x.shape[0] if mean else total

    per_model = vmap(grad(loss_of, has_aux=False), in_dims=(0, 0, 0))
    per_model_loss = vmap(loss_of, in_dims=(0, 0, 0))

    def run(epochs):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny per-model products: threads only cost here
        try:
            return train(epochs)
        finally:
            torch.set_num_threads(threads)

    def train(epochs):
        params = []
        for W, b in zip(weights, biases):
            params += [torch.tensor(np.stack([W] * K), dtype=dtype),
                       torch.tensor(np.stack([b] * K), dtype=dtype)]
        params = tuple(params)
        velocity = None
        rngs = [np.random.default_rng(workload.fit_seed + k if workload.fit_seed is not None
                                      else None) for k in range(K)]
        last = 0.0
        for _ in range(epochs):
            if workload.shuffle and batch < n:
                orders = torch.tensor(np.stack([rng.permutation(n) for rng in rngs]))
            else:
                orders = torch.arange(n).expand(K, n)
            total = torch.zeros(K, dtype=torch.float64)
            for start in range(0, n, batch):
                rows = orders[:, start:start + batch]
                xb, tb = Xt[rows], Tt[rows]          # (K, rows, features): each model's rows
                with torch.no_grad():
                    total += per_model_loss(params, xb, tb).double() * (rows.shape[1] if mean else 1)
                grads = per_model(params, xb, tb)
                with torch.no_grad():
                    if velocity is None:
                        velocity = tuple(g.clone() for g in grads)
                    else:
                        velocity = tuple(momentum * v + g for v, g in zip(velocity, grads))
                    params = tuple(p - lr * v for p, v in zip(params, velocity))
            last = float(total[-1]) / n
        return last

    return run, (f"{K} models stacked, torch.func.vmap(grad) per "
                 f"{'sample' if batch == 1 else f'batch of {batch}'}, SGD momentum written "
                 "out, 1 torch thread")


def format_table(rows):
    lines = ["| stack | stacked steps/s | K x fastnn.MLP one after another | one fastnn.MLP | "
             "stacked / one | stacked / sequential | torch.func.vmap | stacked / torch | "
             "loss rel. diff |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        rate = r["rates"]
        torch = (f"{rate['torch vmap']:,.0f} | {r['stack_vs_torch']:.0f}x"
                 if "torch vmap" in rate else " | ")
        lines.append(f"| {r['n_models']} x {r['workload']} {r['title']} | {rate['stack']:,.0f} | "
                     f"{rate['sequential']:,.0f} | {rate['one']:,.0f} | {r['stack_vs_one']:.2f}x | "
                     f"{r['stack_vs_sequential']:.2f}x | {torch} | {r['loss_rel_diff']:.0e} |")
    return "\n".join(lines)


def run(quick=False, repeat=3, out=print, cases=None):
    """Measure every case; print and return the rows."""
    from .bench import describe_machine, warn_if_busy
    out(f"fastnn bench --stack{' --quick' if quick else ''}: {describe_machine()}; median of "
        f"{repeat} interleaved runs; aggregate sample-steps/s")
    rows = []
    for case in cases or CASES:
        workload = WORKLOADS[case.workload]
        missing = workload.missing_requirements()
        if missing:
            out(f"{case.n_models} x {case.workload} skipped: needs {', '.join(missing)}")
            continue
        rows.append(measure(case, quick, repeat))
        out(format_table(rows[-1:]).splitlines()[-1])
    out("")
    out(format_table(rows))
    for r in rows:
        for name, note in r["notes"].items():
            out(f"{r['workload']} {name}: {note} ({r['torch_epochs']} epochs timed)")
    warn_if_busy(out)
    return rows
