"""asv: prediction latency (one row) and throughput (1,000 rows) of fastnn's estimator and
forward beside scikit-learn and onnxruntime, as ``python -m fastnn bench --latency`` measures
them in one run (fastnn.tools.latency)."""
from fastnn.tools import latency


class Latency:
    timeout = 300
    unit = "seconds"

    def setup_cache(self):
        from sklearn.datasets import load_digits
        X, y = load_digits(return_X_y=True)
        results, _ = latency.measure(X / 16, y)
        return {r["name"]: r for r in results}

    def track_seconds_per_call(self, results, name, rows):
        if name not in results:
            raise NotImplementedError(f"{name} is not installed")
        return results[name][rows]
    track_seconds_per_call.params = (
        ["fastnn.MLPClassifier.predict_proba", "sklearn MLPClassifier.predict_proba",
         "fastnn.MLP.forward, float64", "fastnn.MLP.forward, float32",
         "onnxruntime, float32 (skl2onnx)", "onnxruntime, float32 (fastnn.to_onnx)"],
        list(latency.ROWS))
    track_seconds_per_call.param_names = ["implementation", "rows"]
