"""The FANN peer (fastnn.tools.peers.build_fann): the C library through ctypes, skipped when
it is not found (FASTNN_FANN_LIBRARY unset and the linker finds no libdoublefann)."""
import ctypes.util
import dataclasses

import numpy as np
import pytest

import fastnn
from fastnn.tools import bench, peers
from fastnn.tools.workloads import WORKLOADS

LIBRARIES, WHY_MISSING = peers.fann_libraries()
needs_fann = pytest.mark.skipif("float64" not in LIBRARIES,
                                reason=f"the FANN peer needs libdoublefann: {WHY_MISSING}")


@needs_fann
@pytest.mark.parametrize("workload_id", ["W1", "W3", "W5"])
def test_fann_starts_from_the_workload_weights(workload_id):
    """fann_run of the untrained network equals fastnn's forward: weights (FANN's order, its
    bias neurons), activations and steepness are mapped right."""
    workload = WORKLOADS[workload_id]
    X, Y = workload.data(quick=True)
    run, _ = peers.build_fann(workload, (X, Y), 2, LIBRARIES)
    expected = workload.make_network(fastnn.MLP).forward(X)
    np.testing.assert_allclose(run.initial_outputs(X), expected, rtol=0, atol=1e-12)


@needs_fann
def test_fann_trains_w1_and_w3():
    w1, w3 = WORKLOADS["W1"], WORKLOADS["W3"]
    run, note = peers.build_fann(w1, w1.data(quick=True), 2, LIBRARIES)
    for words in ("full batch 4 (FANN_TRAIN_BATCH)", "lr x 4", "trains bias weights (from 0)",
                  "derivative clipped"):
        assert words in note
    # the first epoch's loss is taken before the only update: fastnn's, to FANN's float32 MSE
    _, history = w1.train(fastnn.MLP, w1.data(quick=True), 1)
    assert run(1) == pytest.approx(history.loss[0], rel=1e-6)
    assert np.isfinite(run(2)) and run(2) < run(1)
    run, note = peers.build_fann(w3, w3.data(quick=True), 2, LIBRARIES)
    assert note.startswith("per sample (FANN_TRAIN_INCREMENTAL); FANN has no "
                           "binary-cross-entropy: trains sigmoid outputs on squared error")
    first, second = run(1), run(2)
    assert np.isfinite(second) and 0 < second < first  # binary cross-entropy of its outputs


@needs_fann
def test_fann_float32_library():
    if "float32" not in LIBRARIES:
        pytest.skip(f"no libfloatfann beside libdoublefann: {LIBRARIES}")
    w1 = WORKLOADS["W1"]
    single = dataclasses.replace(w1, make_network=lambda cls: cls(
        [3, 4, 1], hidden="sigmoid", output="sigmoid", bias=False, init="uniform_signed",
        seed=1, dtype="float32"))
    X, Y = single.data(quick=True)
    run, _ = peers.build_fann(single, (X, Y), 2, LIBRARIES)
    expected = single.make_network(fastnn.MLP).forward(X.astype(np.float32))
    np.testing.assert_allclose(run.initial_outputs(X), expected, rtol=1e-6)
    assert np.isfinite(run(2))


@needs_fann
def test_bench_measures_the_fann_peer(monkeypatch):
    monkeypatch.setattr(bench, "available_peers", lambda: (
        [p for p in peers.available()[0] if p.name == peers.FANN], []))
    (row,) = bench.run(["W1"], quick=True, repeat=1, peers=True, out=lambda line: None)
    (fann,) = row["peers"]
    assert fann["name"] == "FANN" and fann["per_s"] > 0 and np.isfinite(fann["loss"])


def test_fann_says_what_it_cannot_train():
    """Before any library is loaded: relu, mini-batches, momentum on a full batch, shuffles."""
    fake = {"float64": "unused", "float32": "unused"}
    w1 = WORKLOADS["W1"]
    data = w1.data(quick=True)
    with pytest.raises(peers.Unsupported, match="FANN 2.2 has no relu activation"):
        peers.build_fann(WORKLOADS["W6"], data, 1, fake)
    with pytest.raises(peers.Unsupported, match="not mini-batches"):
        peers.build_fann(dataclasses.replace(w1, batch_size=2), data, 1, fake)
    with pytest.raises(peers.Unsupported, match="full-batch training has no momentum"):
        peers.build_fann(dataclasses.replace(w1, optimizer={"lr": 1.0, "momentum": 0.9}),
                         data, 1, fake)
    with pytest.raises(peers.Unsupported, match="shuffles"):
        peers.build_fann(dataclasses.replace(w1, batch_size=1, shuffle=True), data, 1, fake)
    with pytest.raises(peers.Unsupported, match="no libdoublefann"):
        peers.build_fann(w1, data, 1, {"float32": "unused"})


def test_missing_fann_library_gives_the_missing_line(monkeypatch, tmp_path):
    monkeypatch.delenv(peers.FANN_LIBRARY, raising=False)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    _, missing = peers.available()
    assert (f"FANN: {peers.FANN_LIBRARY} unset, libdoublefann not found; build FANN 2.2 "
            "(github.com/libfann/fann) and set FASTNN_FANN_LIBRARY") in "\n".join(missing)
    assert peers.FANN not in [p.name for p in peers.available()[0]]
    monkeypatch.setenv(peers.FANN_LIBRARY, str(tmp_path))
    assert f"FANN: {peers.FANN_LIBRARY}={tmp_path}: no libdoublefann or libfloatfann there" in \
        "\n".join(peers.available()[1])
    monkeypatch.setenv(peers.FANN_LIBRARY, str(tmp_path / "absent.so"))
    assert peers.fann_libraries() == ({}, f"{peers.FANN_LIBRARY}={tmp_path / 'absent.so'}: no "
                                          f"such file or folder; {peers._FANN_HOW}")
    (tmp_path / "libfann.so").write_bytes(b"")
    monkeypatch.setenv(peers.FANN_LIBRARY, str(tmp_path / "libfann.so"))
    assert "precision is unknown" in peers.fann_libraries()[1]
    (tmp_path / "libdoublefann.so.2").write_bytes(b"")
    monkeypatch.setenv(peers.FANN_LIBRARY, str(tmp_path))
    assert peers.fann_libraries() == ({"float64": str(tmp_path / "libdoublefann.so.2")}, "")
