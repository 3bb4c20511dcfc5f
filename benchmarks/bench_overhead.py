"""asv: call overhead, a one-row forward call and a one-sample, one-epoch fit call."""
import numpy as np

from fastnn import MLP, SGD, reference

MODELS = {"fastnn": MLP, "reference": reference.MLP}
IMPLEMENTATIONS = list(MODELS)


class CallOverhead:
    params = IMPLEMENTATIONS
    param_names = ["implementation"]

    def setup(self, implementation):
        self.net = MODELS[implementation]([2, 4, 1], seed=0)
        self.X = np.array([[0.5, -0.5]])
        self.y = np.array([1.0])
        self.optimizer = SGD(lr=0.01)
        self.time_forward(implementation)  # compilation, outside the timing
        self.time_fit(implementation)

    def time_forward(self, implementation):
        self.net.forward(self.X)

    def time_fit(self, implementation):
        self.net.fit(self.X, self.y, optimizer=self.optimizer, epochs=1, batch_size=1)
