"""The tutorials in shared/seeds reproduced on fastnn: their printed numbers and their tasks."""
import numpy as np

import fastnn
from fastnn import datasets


def test_004_hand_set_xor_weights_give_the_printed_outputs():
    # Tutorial 004's xor_network: hidden AND [20, 20, -30], OR [20, 20, -10] (bias last);
    # output [-60, 60, -30].
    net = fastnn.MLP([2, 2, 1], hidden="sigmoid", output="sigmoid")
    net.set_params([np.array([[20.0, 20.0], [20.0, 20.0]]), np.array([[-60.0], [60.0]])],
                   [np.array([-30.0, -10.0]), np.array([-30.0])])
    out = net.forward([[0, 0], [0, 1], [1, 0], [1, 1]])[:, 0]
    printed = [9.38314668300676e-14, 0.9999999999999059, 0.9999999999999059, 9.383146683006828e-14]
    np.testing.assert_allclose(out, printed, rtol=1e-12, atol=1e-15)


def test_001_points_reproduces_stage_2_weights_and_prediction():
    X, y = datasets.points()
    net = fastnn.MLP([2, 4, 1], hidden="sigmoid", output="sigmoid", bias=False,
                     init="uniform_signed", seed=1)
    stage_1 = net.get_params()[0]
    np.testing.assert_allclose(stage_1[0], [[-0.16595599, 0.44064899, -0.99977125, -0.39533485],
                                            [-0.70648822, -0.81532281, -0.62747958, -0.30887855]],
                               atol=5e-9)
    net.fit(X, y, optimizer=fastnn.SGD(lr=1.0), epochs=100_000, batch_size=None, reduction="sum")
    weights = net.get_params()[0]
    np.testing.assert_allclose(weights[0], [[-3.97185157, 4.66297249, -5.25188655, 1.39753303],
                                            [1.35299999, -1.57439556, 1.76665557, -0.71676559]],
                               atol=5e-8)
    np.testing.assert_allclose(weights[1][:, 0], [-7.20493687, 6.57701463, -11.30181144, 0.89289527],
                               atol=5e-8)
    np.testing.assert_allclose(net.forward(datasets.points_test())[0, 0], 0.99942671, atol=5e-9)
    assert net.predict(X).tolist() == y[:, 0].astype(int).tolist()


def moons_network():
    """Tutorial 003's start: np.random.seed(42), 30 draws in earlier cells, then U[0,1) weights."""
    random_state = np.random.RandomState(42)
    random_state.random_sample(30)
    return fastnn.MLP([2, 10, 1], hidden="sigmoid", output="sigmoid", bias=False, init="uniform",
                      seed=random_state)


def test_003_moons_reproduces_the_printed_errors_and_learns():
    X, y = datasets.moons_tutorial()
    net = moons_network()
    history = net.fit(X, y, optimizer=fastnn.SGD(lr=0.1), epochs=10_000, batch_size=None,
                      reduction="sum")
    printed = {0: 0.23478, 1000: 0.25000, 2000: 0.25000, 3000: 0.25000, 4000: 0.05129,
               5000: 0.02163, 6000: 0.01157}
    for epoch, error in printed.items():
        assert abs(history.loss[epoch] - error) < 1e-4, (epoch, history.loss[epoch], error)
    assert (net.predict(X) == y[:, 0]).mean() > 0.95


def test_000_xor_is_learnt():
    X, y = datasets.xor()
    net = fastnn.MLP([3, 4, 1], hidden="sigmoid", output="sigmoid", bias=False,
                     init="uniform_signed", seed=1)
    net.fit(X, y, optimizer=fastnn.SGD(lr=1.0), epochs=50_000, batch_size=None, reduction="sum")
    out = net.forward(X)[:, 0]
    assert np.all(np.abs(out - y[:, 0]) < 0.01), out


def test_002_complement_bits_are_learnt_per_sample_with_momentum():
    X, T = datasets.complement_bits()
    V, W = datasets.complement_bits_init()
    net = fastnn.MLP([10, 10, 10], hidden="tanh", output="sigmoid")
    net.set_params([V, W], [np.zeros(10), np.zeros(10)])
    history = net.fit(X, T, loss="binary_cross_entropy",
                      optimizer=fastnn.SGD(lr=0.01, momentum=0.9), epochs=100, batch_size=1,
                      shuffle=False, reduction="sum")
    # The tutorial's printed loss is the mean over the 10 outputs: ours (the sum) / 10.
    assert 0.3 < history.loss[0] / 10 < 0.6 and history.loss[-1] / 10 < 0.002
    assert np.array_equal((net.forward(X) > 0.5).astype(int), T.astype(int))


def test_004_captcha_digits_are_all_learnt():
    X, Y = datasets.captcha_digits()
    net = fastnn.MLP([25, 5, 10], hidden="sigmoid", output="sigmoid", init="uniform", seed=0)
    net.fit(X, Y, optimizer=fastnn.SGD(lr=1.0), epochs=10_000, batch_size=1, shuffle=False,
            reduction="sum")
    assert net.predict(X).tolist() == list(range(10))
