"""fastnn.MLPStack: every model of a stack trains as fastnn.MLP.fit trains it alone, on every
path (conftest's PATH_CASES) with every update rule (OPTIMIZERS), shared and per-model
optimizers, (n,) and (K, n) sample weights, shuffled and not, in both dtypes; and the API
around it (initial weights, indexing, predictions, loss and gradient, callbacks,
divergence, refused input)."""
import copy
import pickle

import numpy as np
import pytest

import fastnn
from fastnn import paths

from conftest import (DTYPES, OPTIMIZERS, PATH_CASES, Recorded, assert_matches, make_data,
                      make_weights, output_and_loss)

CASES = [pytest.param(case, id=case.name) for case in PATH_CASES]
PER_SAMPLE_CASES = [pytest.param(case, id=case.name) for case in PATH_CASES
                    if case.kind == paths.PER_SAMPLE]
K = 3
SEED, FIT_SEED = 11, 7


def solo_models(case, dtype, n_models=K):
    output, _ = output_and_loss(case.sizes)
    return [fastnn.MLP(case.sizes, hidden=list(case.hidden), output=output, seed=SEED + k,
                       dtype=dtype) for k in range(n_models)]


def stack_for(case, dtype, n_models=K):
    output, _ = output_and_loss(case.sizes)
    return fastnn.MLPStack(case.sizes, n_models, hidden=list(case.hidden), output=output,
                           seed=SEED, dtype=dtype)


def optimizers_for(name, per_model):
    """One optimizer, or K with their own learning rates."""
    if not per_model:
        return OPTIMIZERS[name]()
    made = [OPTIMIZERS[name]() for _ in range(K)]
    for k, opt in enumerate(made):
        opt.lr *= 1 + 0.5 * k
    return made


@pytest.fixture
def in_lanes(monkeypatch):
    """Per-sample stacks train model-minor (fastnn.kernels.stacked.train_lanes) however few
    their models; returns the list of the lane kernel's calls."""
    calls = []
    monkeypatch.setattr(fastnn.stack, "LANES_PER_GROUP", 1)
    monkeypatch.setattr(fastnn.stack, "train_lanes",
                        Recorded(fastnn.stack.train_lanes, "lanes", calls))
    return calls


@pytest.mark.parametrize("per_model", [False, True], ids=["shared", "per_model"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("case", CASES)
def test_each_model_trains_as_alone(on_path, case, opt_name, dtype, per_model):
    """Shared: one optimizer and (n,) weights; per model: K optimizers of their own learning
    rates, (K, n) weights and the l2 penalty. Losses, parameters, optimizer state and step
    counts agree with K fastnn.MLP fits (seed s + k for the shuffles)."""
    on_path(case)
    check_trains_as_alone(case, opt_name, dtype, per_model)


@pytest.mark.parametrize("per_model", [False, True], ids=["shared", "per_model"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("case", PER_SAMPLE_CASES)
def test_each_model_trains_as_alone_in_lanes(on_path, in_lanes, case, opt_name, dtype,
                                             per_model):
    """The same on the model-minor kernel: K = 3 models in two groups of two lanes, the
    last lane a padding copy; rows of weight 0 leave a lane out of a step."""
    on_path(case)
    check_trains_as_alone(case, opt_name, dtype, per_model)
    assert in_lanes


def check_trains_as_alone(case, opt_name, dtype, per_model):
    output, loss = output_and_loss(case.sizes)
    X, Y = make_data(case.n, case.sizes, output, loss, dtype=dtype)
    if per_model:
        weights = np.stack([make_weights(case.n, seed=k) for k in range(K)])
        extra = dict(l2=1e-3)
    else:
        weights = make_weights(case.n)
        extra = {}
    fit = dict(case.fit, loss=loss, epochs=2, **extra)
    stack = stack_for(case, dtype)
    stack_opt = optimizers_for(opt_name, per_model)
    history = stack.fit(X, Y, optimizer=stack_opt, seed=FIT_SEED, sample_weight=weights, **fit)
    assert history.loss.shape == (2, K)
    solo_opts = optimizers_for(opt_name, True) if per_model else [OPTIMIZERS[opt_name]()
                                                                  for _ in range(K)]
    for k, (net, opt) in enumerate(zip(solo_models(case, dtype), solo_opts)):
        alone = net.fit(X, Y, optimizer=opt, seed=FIT_SEED + k,
                        sample_weight=weights[k] if per_model else weights, **fit)
        assert_matches(history.loss[:, k], alone.loss, dtype)
        assert_matches(stack.params[k], net.params, dtype)
        state = stack_opt[k]._state if per_model else stack_opt._state[k]
        assert_matches(state, opt._state, dtype)
        steps = stack_opt[k].steps if per_model else stack_opt.steps[k]
        assert steps == opt.steps


def test_optimizer_state_carries_over_calls(on_path):
    """Two fit calls of a stack with one optimizer equal two calls of each model alone."""
    case = PATH_CASES[1]
    on_path(case)
    output, loss = output_and_loss(case.sizes)
    X, Y = make_data(case.n, case.sizes, output, loss)
    stack, opt = stack_for(case, np.float64), fastnn.Adam(lr=0.01)
    for call in range(2):
        stack.fit(X, Y, loss=loss, optimizer=opt, seed=call * 10, **case.fit)
    for k, net in enumerate(solo_models(case, np.float64)):
        alone = fastnn.Adam(lr=0.01)
        for call in range(2):
            net.fit(X, Y, loss=loss, optimizer=alone, seed=call * 10 + k, **case.fit)
        assert_matches(stack.params[k], net.params)
    assert list(opt.steps) == [2 * case.n] * K


def test_kfold_masks_train_each_fold_as_alone():
    """A (K, n) 0/1 mask trains K folds: each equals fastnn.MLP.fit with that mask."""
    X, Y = make_data(60, (4, 6, 2), "softmax", "cross_entropy")
    folds = np.arange(60) % K
    mask = np.stack([(folds != k).astype(float) for k in range(K)])
    stack = fastnn.MLPStack([4, 6, 2], K, output="softmax", seed=0)
    stack.fit(X, Y, loss="cross_entropy", optimizer=fastnn.SGD(lr=0.1), epochs=3,
              batch_size=1, sample_weight=mask, seed=0)
    for k in range(K):
        net = fastnn.MLP([4, 6, 2], output="softmax", seed=k)
        net.fit(X, Y, loss="cross_entropy", optimizer=fastnn.SGD(lr=0.1), epochs=3,
                batch_size=1, sample_weight=mask[k], seed=k)
        assert_matches(stack.params[k], net.params)


# ------------------------------------------------------------------ the API around it

def test_initial_weights_are_the_models_of_each_seed():
    stack = fastnn.MLPStack([3, 5, 2], 4, hidden="relu", init="he", seed=40, dtype="float32")
    assert stack.seeds == (40, 41, 42, 43) and len(stack) == 4 and stack.n_models == 4
    for k in range(4):
        net = fastnn.MLP([3, 5, 2], hidden="relu", init="he", seed=40 + k, dtype="float32")
        np.testing.assert_array_equal(stack.params[k], net.params)
        np.testing.assert_array_equal(stack[k].params, net.params)
    listed = fastnn.MLPStack([3, 5, 2], 2, seed=[9, 3])
    np.testing.assert_array_equal(listed.params[1], fastnn.MLP([3, 5, 2], seed=3).params)
    fresh = fastnn.MLPStack([3, 5, 2], 2)
    np.testing.assert_array_equal(fresh.params[1],
                                  fastnn.MLP([3, 5, 2], seed=fresh.seeds[1]).params)
    assert stack.params.shape == (4, stack.n_params) and stack.dtype == np.float32


def test_indexing_gives_independent_copies():
    stack = fastnn.MLPStack([3, 4, 1], 3, seed=0)
    last = stack[-1]
    assert isinstance(last, fastnn.MLP)
    np.testing.assert_array_equal(last.params, stack.params[2])
    last.params[...] = 0
    assert stack.params[2].any()
    with pytest.raises(IndexError):
        stack[3]
    with pytest.raises(IndexError):
        stack[-4]
    with pytest.raises(TypeError):
        stack["0"]
    assert [net.params.sum() for net in stack] == [row.sum() for row in stack.params]


def test_from_models_copies_and_checks():
    nets = [fastnn.MLP([2, 3, 1], seed=k) for k in range(3)]
    stack = fastnn.MLPStack.from_models(nets)
    np.testing.assert_array_equal(stack.params, np.stack([n.params for n in nets]))
    stack.params[...] = 0
    assert nets[0].params.any() and stack.seeds is None
    with pytest.raises(ValueError, match=r"models\[1\] has sizes"):
        fastnn.MLPStack.from_models([nets[0], fastnn.MLP([2, 4, 1])])
    with pytest.raises(ValueError, match=r"models\[1\] has dtype"):
        fastnn.MLPStack.from_models([nets[0], fastnn.MLP([2, 3, 1], dtype="float32")])
    with pytest.raises(ValueError, match=r"models\[1\] has layer_activations"):
        fastnn.MLPStack.from_models([nets[0], fastnn.MLP([2, 3, 1], hidden="relu")])
    with pytest.raises(TypeError, match=r"models\[1\]"):
        fastnn.MLPStack.from_models([nets[0], "net"])
    with pytest.raises(ValueError, match="models is empty"):
        fastnn.MLPStack.from_models([])


def test_forward_predict_and_loss_and_grad_are_each_models():
    X, Y = make_data(30, (4, 6, 3), "softmax", "cross_entropy")
    weights = np.stack([make_weights(30, seed=k) for k in range(K)])
    stack = fastnn.MLPStack([4, 6, 3], K, output="softmax", seed=5)
    out, classes = stack.forward(X), stack.predict(X)
    assert out.shape == (K, 30, 3) and classes.shape == (K, 30)
    losses, grad_w, grad_b = stack.loss_and_grad(X, Y, loss="cross_entropy", l2=0.1,
                                                 sample_weight=weights)
    assert losses.shape == (K,) and grad_w[0].shape == (K, 4, 6) and grad_b[1].shape == (K, 3)
    for k in range(K):
        net = stack[k]
        np.testing.assert_array_equal(out[k], net.forward(X))
        np.testing.assert_array_equal(classes[k], net.predict(X))
        value, gw, gb = net.loss_and_grad(X, Y, loss="cross_entropy", l2=0.1,
                                          sample_weight=weights[k])
        assert losses[k] == value
        for a, b in zip((grad_w[0][k], grad_w[1][k], grad_b[0][k], grad_b[1][k]), gw + gb):
            np.testing.assert_array_equal(a, b)
    weights_, biases_ = stack.get_params()
    np.testing.assert_array_equal(weights_[1][2], stack[2].get_params()[0][1])
    one = fastnn.MLPStack([4, 3, 1], 2, output="sigmoid", seed=0)
    assert one.predict(X).shape == (2, 30)
    raw = fastnn.MLPStack([4, 3, 1], 2, output="linear", seed=0, bias=False)
    assert raw.predict(X).shape == (2, 30, 1) and raw.get_params()[1] is None


def test_callback_gets_every_models_loss_and_stops():
    X, Y = make_data(20, (3, 4, 1), "sigmoid", "binary_cross_entropy")
    seen = []
    stack = fastnn.MLPStack([3, 4, 1], K, seed=0)
    history = stack.fit(X, Y, loss="binary_cross_entropy", epochs=10, batch_size=1,
                        callback=lambda epoch, losses: seen.append((epoch, losses)) or epoch < 3)
    assert [e for e, _ in seen] == [0, 1, 2, 3] and history.loss.shape == (4, K)
    np.testing.assert_array_equal(np.stack([l for _, l in seen]), history.loss)
    assert "4 epochs of 3 models" in repr(history)


def test_verbose_prints_one_line_per_epoch_for_the_stack(capsys):
    X, Y = make_data(20, (3, 4, 1), "sigmoid", "binary_cross_entropy")
    fastnn.MLPStack([3, 4, 1], K, seed=0).fit(X, Y, epochs=3, batch_size=4, verbose=True)
    assert capsys.readouterr().out.count("Epoch:") == 3


def test_divergence_restores_every_model_and_names_it():
    X, Y = make_data(40, (3, 8, 2), "linear", "squared_error")
    X = X * 100
    stack = fastnn.MLPStack([3, 8, 2], K, hidden="relu", output="linear", seed=0)
    opts = [fastnn.SGD(lr=1e-4, momentum=0.9), fastnn.SGD(lr=50.0, momentum=0.9),
            fastnn.SGD(lr=1e-4, momentum=0.9)]
    before = stack.params.copy()
    with pytest.raises(FloatingPointError, match="model 1 in epoch"):
        stack.fit(X, Y, optimizer=opts, epochs=50, batch_size=1)
    np.testing.assert_array_equal(stack.params, before)
    assert all(opt.steps == 0 and not opt._state.any() for opt in opts)


def test_divergence_in_lanes_restores_and_names_the_model(in_lanes):
    X, Y = make_data(40, (3, 8, 2), "linear", "squared_error")
    stack = fastnn.MLPStack([3, 8, 2], 5, hidden="relu", output="linear", seed=0)
    opts = [fastnn.SGD(lr=1e3 if k == 3 else 1e-3, momentum=0.9) for k in range(5)]
    before = stack.params.copy()
    with pytest.raises(FloatingPointError, match=r"\(model 3 in epoch 0\)"):
        stack.fit(X, Y, optimizer=opts, epochs=50, batch_size=1, seed=0)
    np.testing.assert_array_equal(stack.params, before)
    assert in_lanes and all(opt.steps == 0 and not opt._state.any() for opt in opts)


def test_the_lane_rule():
    """Lanes from LANES_PER_GROUP models per thread; one group per thread, at most
    LANES_MAX lanes a group."""
    assert fastnn.stack.lane_groups(15, 2) == 0
    assert fastnn.stack.lane_groups(16, 2) == 2
    assert fastnn.stack.lane_groups(8, 1) == 1
    assert fastnn.stack.lane_groups(300, 2) == 5


def test_a_stack_pickles_and_deep_copies():
    stack = fastnn.MLPStack([3, 4, 2], 2, seed=1)
    for other in (pickle.loads(pickle.dumps(stack)), copy.deepcopy(stack)):
        np.testing.assert_array_equal(other.params, stack.params)
        other.params[0, 0] += 1
        assert other[0].params[0] == other.params[0, 0] != stack.params[0, 0]


@pytest.mark.parametrize("arguments,error,match", [
    (dict(optimizer=[fastnn.SGD()] * 2), ValueError, "3 optimizers"),
    (dict(optimizer="sgd"), TypeError, "optimizer must be"),
    (dict(optimizer=[fastnn.SGD(), fastnn.Adam(), fastnn.SGD()]), TypeError, r"optimizer\[1\]"),
    (dict(optimizer=[fastnn.SGD(lr=1e-50), fastnn.SGD(), fastnn.SGD()], dtype="float32"),
     ValueError, r"optimizer\[0\]: lr=1e-50 underflows"),
    (dict(sample_weight=np.ones((2, 10))), ValueError, r"sample_weight must have shape"),
    (dict(sample_weight=np.stack([np.ones(10), np.zeros(10), np.ones(10)])), ValueError,
     "model 1 are all zero"),
    (dict(sample_weight=-np.ones(10)), ValueError, "sample_weight must be >= 0"),
    (dict(seed=[1, 2]), ValueError, "3 seeds"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(seed=1.5), TypeError, "seed"),
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(loss="cross_entropy"), ValueError, "loss"),
])
def test_bad_input_is_refused_before_anything_changes(arguments, error, match):
    dtype = arguments.pop("dtype", "float64")
    X, Y = make_data(10, (3, 4, 2), "sigmoid", "squared_error")
    stack = fastnn.MLPStack([3, 4, 2], K, seed=0, dtype=dtype)
    before = stack.params.copy()
    optimizer = arguments.get("optimizer")
    with pytest.raises(error, match=match):
        stack.fit(X, Y, **arguments)
    np.testing.assert_array_equal(stack.params, before)
    if isinstance(optimizer, list):
        assert all(opt._state is None for opt in optimizer)


@pytest.mark.parametrize("method", ["fit", "forward", "loss_and_grad"])
def test_sparse_input_is_refused_by_name(method):
    scipy_sparse = pytest.importorskip("scipy.sparse")
    X, Y = make_data(10, (3, 4, 2), "sigmoid", "squared_error")
    stack = fastnn.MLPStack([3, 4, 2], K, seed=0)
    before = stack.params.copy()
    arguments = (scipy_sparse.csr_matrix(X),) + ((Y,) if method != "forward" else ())
    with pytest.raises(TypeError, match="X: fastnn.MLPStack takes dense arrays"):
        getattr(stack, method)(*arguments)
    np.testing.assert_array_equal(stack.params, before)


def test_one_optimizer_serves_one_stack_and_list_entries_their_model():
    X, Y = make_data(10, (3, 4, 2), "sigmoid", "squared_error")
    stack, other = fastnn.MLPStack([3, 4, 2], 2, seed=0), fastnn.MLPStack([3, 4, 2], 2, seed=0)
    shared = fastnn.SGD(lr=0.1, momentum=0.5)
    stack.fit(X, Y, optimizer=shared)
    assert shared._state.shape == (2, 1, stack.n_params)
    with pytest.raises(ValueError, match="another model"):
        other.fit(X, Y, optimizer=shared)
    listed = [fastnn.SGD(lr=0.1), fastnn.SGD(lr=0.1)]
    stack.fit(X, Y, optimizer=listed)
    with pytest.raises(ValueError, match=r"optimizer\[0\]: .*another model"):
        other.fit(X, Y, optimizer=listed)
    with pytest.raises(ValueError, match="more than once"):
        other.fit(X, Y, optimizer=[listed[0]] * 2)


@pytest.mark.parametrize("arguments,error,match", [
    (dict(n_models=0), ValueError, "n_models"),
    (dict(n_models=2.0), TypeError, "n_models"),
    (dict(seed=2 ** 32 - 1), ValueError, "seed"),
    (dict(seed=[1]), ValueError, "2 seeds"),
    (dict(seed="a"), TypeError, "seed"),
    (dict(hidden="nope"), ValueError, "hidden"),
])
def test_bad_construction_is_refused(arguments, error, match):
    arguments = dict(dict(sizes=[3, 4, 2], n_models=2), **arguments)
    with pytest.raises(error, match=match):
        fastnn.MLPStack(**arguments)


def test_the_per_sample_cases_take_the_per_sample_path():
    """The cases the tests generate reach each path as MLP.fit's (the stack asks the same
    chooser)."""
    for case in PATH_CASES:
        rows = case.fit["batch_size"] or case.n
        assert paths.choose("train", rows, case.sizes, 8).kind == case.kind


# ------------------------------------------------------------------ persistence

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bias", [True, False])
def test_save_and_load_round_trip(tmp_path, dtype, bias):
    stack = fastnn.MLPStack([4, 5, 3], 3, hidden=["relu"], output="softmax", bias=bias,
                            init="uniform_signed", seed=8, dtype=dtype)
    stack.save(tmp_path / "stack.npz")
    loaded = fastnn.load(tmp_path / "stack.npz")
    assert type(loaded) is fastnn.MLPStack and len(loaded) == 3 and loaded.seeds == (8, 9, 10)
    assert (loaded.sizes, loaded.hidden, loaded.output, loaded.bias, loaded.dtype) == \
           (stack.sizes, stack.hidden, stack.output, stack.bias, stack.dtype)
    assert loaded.params.tobytes() == stack.params.tobytes()
    X = np.random.default_rng(0).normal(size=(6, 4))
    np.testing.assert_array_equal(loaded.forward(X), stack.forward(X))
    copied = fastnn.MLPStack.from_models([stack[1], stack[0]])
    copied.save(tmp_path / "copied.npz")
    assert fastnn.load(tmp_path / "copied.npz").seeds is None


def stack_fields(path):
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}


STACK_CORRUPTIONS = {
    "params_one_model_short": dict(params=lambda p: p[:-1]),
    "params_flat": dict(params=lambda p: p.reshape(-1)),
    "params_transposed": dict(params=lambda p: np.ascontiguousarray(p.T)),
    "n_models_missing": dict(n_models=None),
    "n_models_zero": dict(n_models=np.array(0)),
    "n_models_negative": dict(n_models=np.array(-3)),
    "n_models_float": dict(n_models=np.array(3.0)),
    "n_models_more_than_stored": dict(n_models=np.array(4)),
    "n_models_absurd": dict(n_models=np.array(10 ** 15)),
    "seeds_missing": dict(seeds=None),
    "seeds_wrong_length": dict(seeds=np.array([1, 2])),
    "seeds_negative": dict(seeds=np.array([1, -2, 3])),
}


@pytest.mark.parametrize("case", sorted(STACK_CORRUPTIONS))
def test_corrupted_stack_files_raise_ValueError(tmp_path, case):
    fastnn.MLPStack([4, 5, 3], 3, seed=0).save(tmp_path / "valid.npz")
    fields = stack_fields(tmp_path / "valid.npz")
    for name, value in STACK_CORRUPTIONS[case].items():
        if value is None:
            del fields[name]
        else:
            fields[name] = value(fields[name]) if callable(value) else value
    with open(tmp_path / "stack.bin", "wb") as file:
        np.savez(file, **fields)
    with pytest.raises(ValueError, match="stack.bin"):
        fastnn.load(tmp_path / "stack.bin")


def test_a_stack_file_is_not_read_as_one_model(tmp_path):
    fastnn.MLPStack([4, 5, 3], 2, seed=0).save(tmp_path / "stack.npz")
    with pytest.raises(ValueError, match="fastnn.MLPStack"):
        fastnn.persistence.read(tmp_path / "stack.npz")


@pytest.mark.parametrize("case", [c for c in CASES if c.values[0].n_parts == 1])
def test_off_the_lanes_each_model_ends_on_its_bits_alone(on_path, case):
    """Model by model (small stacks; every path but the model-minor kernel), each model runs
    fastnn.MLP's own kernel: the same bits as alone."""
    case = on_path(case)
    output, loss = output_and_loss(case.sizes)
    X, Y = make_data(case.n, case.sizes, output, loss)
    stack = stack_for(case, np.float64)
    stack.fit(X, Y, loss=loss, optimizer=fastnn.SGD(lr=0.05, momentum=0.9), epochs=2,
              seed=FIT_SEED, **case.fit)
    for k, net in enumerate(solo_models(case, np.float64)):
        net.fit(X, Y, loss=loss, optimizer=fastnn.SGD(lr=0.05, momentum=0.9), epochs=2,
                seed=FIT_SEED + k, **case.fit)
        np.testing.assert_array_equal(stack.params[k], net.params)


def test_a_stack_trains_in_one_thread_at_a_time():
    import threading
    X, Y = make_data(50, (3, 4, 2), "sigmoid", "squared_error")
    stack = fastnn.MLPStack([3, 4, 2], 2, seed=0)
    started, release = threading.Event(), threading.Event()

    def hold(epoch, losses):
        started.set()
        release.wait(10)

    other = threading.Thread(target=stack.fit, args=(X, Y), kwargs=dict(epochs=2, callback=hold))
    other.start()
    try:
        assert started.wait(10)
        with pytest.raises(RuntimeError, match="another thread"):
            stack.fit(X, Y)
    finally:
        release.set()
        other.join()


def test_an_interrupt_during_a_call_leaves_each_model_and_its_optimizer_together(monkeypatch):
    """Ctrl-C while the models train: every call finishes first, and each model's
    parameters and optimizer state (a list's too) are those of the epochs it completed."""
    X, Y = make_data(30, (3, 5, 2), "sigmoid", "squared_error")
    kernel = fastnn.stack.TRAIN_MODELS[paths.PER_SAMPLE]
    calls = []

    def interrupted(*arguments):
        done = kernel(*arguments)
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return done

    monkeypatch.setitem(fastnn.stack.TRAIN_MODELS, paths.PER_SAMPLE, interrupted)
    stack = fastnn.MLPStack([3, 5, 2], K, seed=0)
    before = stack.params.copy()
    opts = [fastnn.SGD(lr=0.1, momentum=0.9) for _ in range(K)]
    with pytest.raises(KeyboardInterrupt):
        stack.fit(X, Y, optimizer=opts, epochs=5, batch_size=1, seed=0)
    for k in range(K):
        alone, opt = fastnn.MLP([3, 5, 2], seed=k), fastnn.SGD(lr=0.1, momentum=0.9)
        if (stack.params[k] == before[k]).all():
            assert opts[k].steps == 0
            continue
        alone.fit(X, Y, optimizer=opt, epochs=1, batch_size=1, seed=k)
        np.testing.assert_array_equal(stack.params[k], alone.params)
        np.testing.assert_array_equal(opts[k].velocity, opt.velocity)
        assert opts[k].steps == opt.steps
