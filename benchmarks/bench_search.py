"""asv: a hyperparameter search over fastnn's estimator, as ``python -m fastnn bench --search
--quick`` measures it in one run (fastnn.tools.searches): seconds of fastnn.model_selection's
GridSearchCV and scikit-learn's, once everything is loaded and as a new process's first
search."""
from fastnn.tools import searches

NAMES = list(searches.SEARCHES)


class Search:
    timeout = 900

    def setup_cache(self):
        try:
            import sklearn  # noqa: F401
        except ImportError:
            return None
        return searches.measure(quick=True, repeat=3)

    def track_seconds(self, result, name, when):
        if result is None:
            raise NotImplementedError("the search needs scikit-learn")
        return next(row for row in result["rows"] if row["name"] == name)[when]
    track_seconds.params = (NAMES, ["warm", "first"])
    track_seconds.param_names = ["search", "when"]
    track_seconds.unit = "seconds"
