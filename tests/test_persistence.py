"""fastnn.MLP.save / fastnn.load: bit-for-bit round trips, exact paths, and a ValueError (never
a crash, never a silently wrong model) for every corrupted or foreign file."""
import io
import os
import pathlib
import threading
import tracemalloc
import zipfile

import numpy as np
import pytest

import fastnn
from fastnn import _registry as reg

DEPTHS = {1: [4, 3], 2: [4, 5, 3], 3: [4, 5, 6, 3]}


def make_net(sizes=DEPTHS[2], hidden="tanh", output="sigmoid", bias=True, dtype="float64",
             seed=3):
    # uniform_signed draws non-zero biases too, so every parameter is worth checking
    return fastnn.MLP(sizes, hidden=hidden, output=output, bias=bias, init="uniform_signed",
                      seed=seed, dtype=dtype)


def inputs(net, n=7):
    return np.random.default_rng(0).normal(size=(n, net.sizes[0])).astype(net.dtype)


def assert_same_model(loaded, net):
    assert type(loaded) is fastnn.MLP
    assert (loaded.sizes, loaded.hidden, loaded.output, loaded.bias, loaded.dtype) == \
           (net.sizes, net.hidden, net.output, net.bias, net.dtype)
    assert loaded.params.dtype == net.params.dtype
    assert loaded.params.tobytes() == net.params.tobytes()
    (w1, b1), (w2, b2) = loaded.get_params(), net.get_params()
    for a, b in zip(w1 + (b1 or []), w2 + (b2 or [])):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert (b1 is None) == (b2 is None)
    np.testing.assert_array_equal(loaded.forward(inputs(net)), net.forward(inputs(net)))


# --------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("hidden", reg.HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("depth", sorted(DEPTHS))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_is_bit_for_bit(tmp_path, hidden, depth, bias, dtype):
    net = make_net(DEPTHS[depth], hidden, "sigmoid", bias, dtype)
    path = tmp_path / "model.npz"
    net.save(path)
    assert_same_model(fastnn.load(path), net)


@pytest.mark.parametrize("output", reg.OUTPUT_ACTIVATIONS)
def test_round_trip_of_every_output_activation(tmp_path, output):
    net = make_net(output=output)
    net.save(tmp_path / "model.npz")
    assert_same_model(fastnn.load(tmp_path / "model.npz"), net)


@pytest.mark.parametrize("hidden,sizes", [(["relu", "softplus"], DEPTHS[3]),
                                          (("tanh", "sigmoid"), DEPTHS[3]),
                                          (["leaky_relu"], DEPTHS[2]), ([], DEPTHS[1])])
def test_round_trip_of_per_layer_activations(tmp_path, hidden, sizes):
    """A list (or tuple) of hidden activations loads as a list of the same names."""
    net = make_net(sizes, hidden)
    net.save(tmp_path / "model.npz")
    loaded = fastnn.load(tmp_path / "model.npz")
    assert loaded.hidden == list(hidden) and loaded.layer_activations == net.layer_activations
    np.testing.assert_array_equal(loaded.forward(inputs(net)), net.forward(inputs(net)))
    assert loaded.params.tobytes() == net.params.tobytes()


def test_files_of_format_version_1_still_load(tmp_path):
    """Written as fastnn's first format wrote them: one hidden activation, version 1."""
    net = make_net(DEPTHS[3], "tanh")
    with open(tmp_path / "old.model", "wb") as file:
        np.savez(file, format=np.array("fastnn.MLP"), version=np.array(1),
                 sizes=np.array(net.sizes, np.int64), hidden=np.array("tanh"),
                 output=np.array(net.output), bias=np.array(net.bias),
                 dtype=np.array(net.dtype.name), params=net.params)
    assert_same_model(fastnn.load(tmp_path / "old.model"), net)


def test_round_trip_of_a_trained_model(tmp_path):
    net = make_net(dtype="float32")
    X = inputs(net, 20)
    net.fit(X, (X[:, :3] > 0).astype(np.float32), optimizer=fastnn.SGD(lr=0.3, momentum=0.9),
            epochs=5, batch_size=4, seed=0)
    net.save(tmp_path / "trained")
    assert_same_model(fastnn.load(tmp_path / "trained"), net)


# --------------------------------------------------------------------------- paths
@pytest.mark.parametrize("name", ["model.bin", "model", "model.npz", "model.tar.gz", ".hidden"])
@pytest.mark.parametrize("kind", [str, pathlib.Path])
def test_save_writes_exactly_the_path_given(tmp_path, name, kind):
    net = make_net()
    net.save(kind(tmp_path / name))
    assert os.listdir(tmp_path) == [name]  # no ".npz" appended, no temporary file left
    assert_same_model(fastnn.load(kind(tmp_path / name)), net)


def test_bytes_paths(tmp_path):
    net = make_net()
    path = os.fsencode(tmp_path / "model.bin")
    net.save(path)
    assert os.listdir(tmp_path) == ["model.bin"]
    assert_same_model(fastnn.load(path), net)


def test_concurrent_saves_to_one_path_each_leave_a_whole_file(tmp_path):
    """Threads saving different models to one path: every save returns, and the file is
    always one of the models, whole."""
    path = tmp_path / "model.bin"
    nets = [make_net(seed=seed) for seed in range(4)]
    errors = []

    def save_often(net):
        try:
            for _ in range(25):
                net.save(path)
                loaded = fastnn.load(path)
                assert any(np.array_equal(loaded.params, n.params) for n in nets)
        except BaseException as error:  # noqa: BLE001  (reported below)
            errors.append(error)
    workers = [threading.Thread(target=save_often, args=(net,)) for net in nets]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert os.listdir(tmp_path) == ["model.bin"]


def test_save_overwrites_an_existing_file(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"an older file " * 1000)
    first, second = make_net(hidden="relu"), make_net(DEPTHS[3], hidden="sigmoid", bias=False)
    first.save(path)
    second.save(path)
    assert os.listdir(tmp_path) == ["model.bin"]
    assert_same_model(fastnn.load(path), second)


def test_failed_save_leaves_no_temporary_file(tmp_path):
    (tmp_path / "model").mkdir()  # the target is a directory: the final rename fails
    with pytest.raises(OSError):
        make_net().save(tmp_path / "model")
    assert os.listdir(tmp_path) == ["model"]
    assert os.listdir(tmp_path / "model") == []


@pytest.mark.parametrize("name", ["missing.npz", "no_such_dir/model.npz"])
def test_missing_file(tmp_path, name):
    with pytest.raises(FileNotFoundError):
        fastnn.load(tmp_path / name)


# --------------------------------------------------------------------------- corrupted files
@pytest.fixture
def valid(tmp_path):
    """Path of a valid save of a [4, 5, 3] float64 network."""
    path = tmp_path / "valid.npz"
    make_net().save(path)
    return path


def fields_of(path):
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}


def raw(make_bytes):
    """A case writing make_bytes(bytes of a valid save) to the target path."""
    return lambda valid, target: target.write_bytes(make_bytes(valid.read_bytes()))


def edited(**changes):
    """A case rewriting a valid save with np.savez, one field changed (None: removed)."""
    def write(valid, target):
        fields = fields_of(valid)
        for name, value in changes.items():
            if value is None:
                del fields[name]
            else:
                fields[name] = value(fields[name]) if callable(value) else value
        with open(target, "wb") as file:  # a file object: np.savez appends no ".npz"
            np.savez(file, **fields)
    return write


def npy(make_array):
    """A case writing a plain .npy file: make_array(fields of a valid save)."""
    def write(valid, target):
        with open(target, "wb") as file:  # a file object: np.save appends no ".npy"
            np.save(file, make_array(fields_of(valid)))
    return write


def _with_nan(params):
    params = params.copy()
    params[len(params) // 2] = np.nan
    return params


CORRUPTIONS = {
    "empty": raw(lambda data: b""),
    "first_half": raw(lambda data: data[:len(data) // 2]),
    "last_10_bytes_cut": raw(lambda data: data[:-10]),
    "one_byte": raw(lambda data: data[:1]),
    "random_bytes": raw(lambda data: np.random.default_rng(0).bytes(len(data))),
    "text": raw(lambda data: b"sizes = [4, 5, 3]\nhidden = tanh\n"),
    "npy_magic_only": raw(lambda data: b"\x93NUMPY"),
    "plain_npy": npy(lambda fields: np.arange(10.0)),
    "npy_of_the_params": npy(lambda fields: fields["params"]),
    "no_format_mark": edited(format=None),
    "wrong_format": edited(format=np.array("sklearn.MLPClassifier")),
    "format_not_a_string": edited(format=np.array(1)),
    "newer_version": edited(version=np.array(3)),
    "version_missing": edited(version=None),
    "version_as_string": edited(version=np.array("1")),
    "params_too_short": edited(params=lambda p: p[:-1]),
    "params_too_long": edited(params=lambda p: np.append(p, 0.0)),
    "params_nan": edited(params=_with_nan),
    "params_inf": edited(params=lambda p: p * np.inf),
    "params_float32": edited(params=lambda p: p.astype(np.float32)),
    "params_int": edited(params=lambda p: np.round(p).astype(np.int64)),
    "params_2d": edited(params=lambda p: p.reshape(1, -1)),
    "params_missing": edited(params=None),
    "hidden_unknown": edited(hidden=np.array("swish")),
    "hidden_output_only": edited(hidden=np.array("softmax")),
    "hidden_list_too_long": edited(hidden=np.array(["tanh", "relu"])),
    "hidden_list_unknown": edited(hidden=np.array(["swish"])),
    "hidden_list_2d": edited(hidden=np.array([["tanh"]])),
    "hidden_list_in_version_1": edited(version=np.array(1), hidden=np.array(["tanh"])),
    "output_unknown": edited(output=np.array("identity")),
    "dtype_unknown": edited(dtype=np.array("float16")),
    "bias_not_bool": edited(bias=np.array(1)),
    "bias_flipped": edited(bias=np.array(False)),
    "sizes_with_zero": edited(sizes=np.array([4, 0, 3])),
    "sizes_negative": edited(sizes=np.array([4, -5, 3])),
    "sizes_one_entry": edited(sizes=np.array([4])),
    "sizes_float": edited(sizes=lambda s: s.astype(float)),
    "sizes_2d": edited(sizes=lambda s: s.reshape(1, -1)),
    "sizes_other_architecture": edited(sizes=np.array([3, 5, 4])),
    "sizes_pickled_objects": edited(sizes=np.array([4, 5, 3], dtype=object)),
}


def test_rewritten_but_unchanged_fields_still_load(valid, tmp_path):
    """Control for the cases below: rewriting the fields loses nothing, so each malformed
    file differs from a valid one only by its one mutation."""
    edited()(valid, tmp_path / "model.bin")
    assert_same_model(fastnn.load(tmp_path / "model.bin"), make_net())


def zip_header_edited(offset, value):
    """A corruption that writes the 2-byte ``value`` at ``offset`` of the first member's
    central-directory header."""
    def corrupt(valid, target):
        data = bytearray(valid.read_bytes())
        header = data.index(b"PK\x01\x02")
        data[header + offset:header + offset + 2] = value.to_bytes(2, "little")
        target.write_bytes(bytes(data))
    return corrupt


CORRUPTIONS["zip_compression_method_99"] = zip_header_edited(10, 99)
CORRUPTIONS["zip_member_encrypted"] = zip_header_edited(8, 1)


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_corrupted_or_foreign_file_raises_ValueError(valid, tmp_path, corruption):
    target = tmp_path / "model.bin"
    CORRUPTIONS[corruption](valid, target)
    with pytest.raises(ValueError, match="model.bin"):  # the message names the file
        fastnn.load(target)


class WritesMarker:
    """Unpickling this object creates a file: a stand-in for a malicious pickle."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def test_pickled_objects_are_never_loaded(valid, tmp_path):
    marker = tmp_path / "unpickled"
    edited(sizes=np.array([WritesMarker(marker)], dtype=object))(valid, tmp_path / "evil.npz")
    np.load(tmp_path / "evil.npz", allow_pickle=True)["sizes"]  # the file really does unpickle
    assert marker.exists()
    marker.unlink()
    with pytest.raises(ValueError):
        fastnn.load(tmp_path / "evil.npz")
    assert not marker.exists()


def test_absurd_sizes_are_rejected_without_allocating(valid, tmp_path):
    """A corrupted ``sizes`` describing an impossibly large network (16 TB of parameters)
    with a small ``params`` field: the mismatch must be a ValueError, found before the model
    is built, not a MemoryError from trying to build it."""
    overcommit = pathlib.Path("/proc/sys/vm/overcommit_memory")
    if not overcommit.exists() or overcommit.read_text().strip() == "1":
        pytest.skip("the kernel would grant the allocation lazily; too risky to try")
    edited(sizes=np.array([10**6, 10**6, 10**6]))(valid, tmp_path / "huge.npz")
    with pytest.raises(ValueError):
        fastnn.load(tmp_path / "huge.npz")


# --------------------------------------------------------------------------- hostile sizes
def rezipped(replace, compression=zipfile.ZIP_STORED):
    """A case copying a valid save's members, with ``replace`` (member name -> bytes)."""
    def write(valid, target):
        with zipfile.ZipFile(valid) as source, zipfile.ZipFile(target, "w", compression) as out:
            for info in source.infolist():
                out.writestr(info.filename, replace.get(info.filename, source.read(info)))
    return write


def npy_header(shape, descr="<f8"):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


HOSTILE = {
    # 1 KB: a params header declaring 10^11 float64 values (800 GB)
    "params_header_declares_1e11_values": rezipped(
        {"params.npy": npy_header((10**11,)) + bytes(8)}),
    # small on disk, hundreds of MB once inflated
    "params_inflates_to_200_MB": rezipped(
        {"params.npy": npy_header((25 * 10**6,)) + bytes(200 * 10**6)}, zipfile.ZIP_DEFLATED),
    "field_inflates_to_50_MB": rezipped(
        {"output.npy": npy_header((50 * 10**6,), "|u1") + bytes(50 * 10**6)},
        zipfile.ZIP_DEFLATED),
    "field_header_declares_1e12_bytes": rezipped(
        {"dtype.npy": npy_header((10**12,), "|u1") + bytes(8)}),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_declared_sizes_are_checked_before_anything_is_inflated(valid, tmp_path, case):
    target = tmp_path / "hostile.npz"
    HOSTILE[case](valid, target)
    assert target.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="hostile.npz"):
            fastnn.load(target)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 22  # nothing near the declared size was allocated
