"""The workloads and the bench command, run once at reduced size (no timing is asserted)."""
import json

import numpy as np
import pytest

import fastnn
from fastnn import bench
from fastnn.__main__ import main
from fastnn.workloads import WORKLOADS


@pytest.mark.parametrize("workload_id", sorted(WORKLOADS))
def test_both_implementations_start_equal_and_train_alike(workload_id):
    workload = WORKLOADS[workload_id]
    if workload.missing_requirements():
        pytest.skip(f"{workload_id} needs {workload.missing_requirements()} (optional extras)")
    data = workload.data(quick=True)
    fast, ref = workload.make_network(fastnn.MLP), workload.make_network(fastnn.reference.MLP)
    np.testing.assert_array_equal(fast._params, ref._params)
    epochs = max(1, workload.epochs // 100)
    if workload.batch_size != 1:  # batched workloads: a few batches are enough here
        data = data[0][:256], data[1][:256]
    _, h_fast = workload.train(fastnn.MLP, data, epochs)
    _, h_ref = workload.train(fastnn.reference.MLP, data, epochs)
    np.testing.assert_allclose(h_fast.loss, h_ref.loss, rtol=1e-9 if fast.dtype == np.float64 else 1e-4)


def test_bench_command_prints_the_table_and_writes_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--workloads", "W1,W3", "--repeat", "1", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "| W1 xor" in out and "| W3 bits" in out and "ratio" in out
    rows = json.loads(path.read_text())
    assert [r["workload"] for r in rows] == ["W1", "W3"]
    for r in rows:
        assert r["fastnn_per_s"] > 0 and r["reference_per_s"] > 0
        assert r["loss_rel_diff"] < 1e-9


def test_bench_rejects_unknown_workloads():
    with pytest.raises(SystemExit):
        main(["bench", "--workloads", "W99"])
    with pytest.raises(ValueError, match="W99"):
        bench.run(["W99"])
