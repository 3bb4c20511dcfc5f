"""python -m fastnn demo: each tutorial runs, prints what the tutorial printed next to plain
NumPy's and the reference's times, and writes its pictures when matplotlib is installed."""
import importlib.util
import sys

import pytest

import fastnn
from fastnn.tools import demo
from fastnn.__main__ import main

HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None

# With --quick (a tenth of the epochs): lines each tutorial prints, and its pictures.
EXPECTED = {
    "xor": (["weights1, weights2", "layer2 after 5,000 iterations (targets [0 0 1 1]):"], []),
    "points": (["Stage 1) Random starting synaptic weights: ", "    Layer 1 (4 neurons, each with 2 inputs): ",
                " [-0.70648822 -0.81532281 -0.62747958 -0.30887855]]",
                "Stage 2) New synaptic weights after training: ",
                "Stage 3) Considering a new situation [ 2 -3]"], ["points_data.png"]),
    "bits": ([" Epoch: 0, loss: 0.44937397, Time: ", " Epoch: 9, loss: ", "XOR Prediction",
              "[1 0 1 1 1 1 0 1 0 0]"], []),
    "moons": (["Error at epoch 0 is 0.23478", "Error at epoch 900 is 0.25000",
               "[[1 1 1 1 0]]"], ["moons_loss.png", "moons_boundary.png"]),
    "captcha": (["(10, 25)", "(10, 10)", "predict, the ten digits: ",
                 "Testing with a different 7: predict -> "], ["captcha_weights.png"]),
}


def test_every_tutorial_has_expectations():
    assert list(demo.TUTORIALS) == list(EXPECTED)


@pytest.fixture
def agg_backend():
    if HAVE_MATPLOTLIB:
        import matplotlib
        matplotlib.use("Agg")


@pytest.mark.parametrize("name", list(EXPECTED))
def test_demo_runs_prints_the_tutorial_and_writes_its_pictures(name, tmp_path, capsys,
                                                               agg_backend):
    assert main(["demo", name, "--out", str(tmp_path), "--quick"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0 if HAVE_MATPLOTLIB else 1].startswith(f"== {name}: tutorial ")
    printed, pictures = EXPECTED[name]
    for expected in printed:
        assert any(line.startswith(expected) for line in lines), expected
    assert sum(line.startswith("time: fastnn ") and "plain NumPy" in line
               and "NumPy reference" in line and "first call" in line for line in lines) == 1
    final = [line for line in lines if line.startswith("final loss: fastnn ")]
    assert len(final) == 1 and "plain NumPy" in final[0] and "reference" in final[0]
    if HAVE_MATPLOTLIB:
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(pictures)
        for picture in pictures:
            assert f"wrote {tmp_path / picture}" in lines
            assert (tmp_path / picture).read_bytes().startswith(b"\x89PNG")
    else:
        assert lines[0].startswith("pictures skipped: ") and "pip install matplotlib" in lines[0]
        assert not list(tmp_path.iterdir())


def test_bits_in_full_prints_every_epoch_and_the_tutorials_prediction(capsys):
    demo.run(["bits"])
    lines = capsys.readouterr().out.splitlines()
    epochs = [line for line in lines if line.startswith(" Epoch: ")]
    assert len(epochs) == 100 and epochs[-1].startswith(" Epoch: 99, loss: 0.0012")
    assert all(line.endswith("s)") for line in epochs)  # the reference's time per epoch too
    # The tutorial's "XOR Prediction", input and output as it printed them.
    at = lines.index("XOR Prediction")
    assert lines[at + 1:at + 3] == ["[1 0 1 1 1 1 0 1 0 0]", "[0 1 0 0 0 0 1 0 1 1]"]


def test_moons_in_full_prints_the_tutorials_errors(tmp_path, capsys, agg_backend):
    demo.run(["moons"], folder=tmp_path / "pictures")
    out = capsys.readouterr().out
    for epoch, error in [(0, "0.23478"), (3000, "0.25000"), (4000, "0.05129"), (6000, "0.01157")]:
        assert f"Error at epoch {epoch} is {error}\n" in out
    assert "for 10,000 epochs" in out
    if HAVE_MATPLOTLIB:
        assert (tmp_path / "pictures" / "moons_boundary.png").exists()


def test_without_matplotlib_the_pictures_are_skipped_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "fastnn.plot", raising=False)
    monkeypatch.delattr(fastnn, "plot", raising=False)
    demo.run(["points", "captcha"], folder=tmp_path, quick=True)
    lines = capsys.readouterr().out.splitlines()
    skipped = [line for line in lines if "skipped" in line]
    assert skipped == ["pictures skipped: fastnn.plot needs matplotlib: pip install matplotlib "
                       "(or pip install fastnn[bench])"]
    assert not list(tmp_path.iterdir())


def test_unknown_name_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "mnist"])
    assert exit_.value.code == 2
    assert "invalid choice: 'mnist'" in capsys.readouterr().err


def test_help_lists_the_names(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--help"])
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for name, tutorial in demo.TUTORIALS.items():
        assert f"{name} (tutorial {tutorial.seed}:" in out
