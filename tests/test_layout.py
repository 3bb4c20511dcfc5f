"""The package's layers: the compiled core (fastnn.kernels) imports only itself, the API
imports neither the estimators nor the tools, and no module imports itself in a circle; a
fresh process that only predicts compiles no training kernel."""
import ast
import pathlib
import subprocess
import sys
import textwrap

import fastnn
from conftest import RECORD_COMPILED

PACKAGE = pathlib.Path(fastnn.__file__).parent
STANDARD = {"collections", "contextlib", "functools", "hashlib", "pathlib", "math", "numbers",
            "os", "time", "types"}
THIRD_PARTY = {"numpy", "numba", "llvmlite"}


def module_name(path):
    return ".".join(("fastnn",) + path.relative_to(PACKAGE).with_suffix("").parts).removesuffix(
        ".__init__")


def imports(path):
    """The modules ``path`` imports (absolute names; relative ones resolved), top level and
    inside functions alike."""
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
                found |= {base} | ({f"{base}.{alias.name}" for alias in node.names}
                                   if node.module is None else set())
            else:
                found.add(node.module)
    return found


def fastnn_modules():
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def test_kernels_import_only_the_kernels():
    for name, path in fastnn_modules().items():
        if not name.startswith("fastnn.kernels"):
            continue
        for imported in imports(path):
            top = imported.split(".")[0]
            assert (imported.startswith("fastnn.kernels") or top in STANDARD | THIRD_PARTY), \
                f"{name} imports {imported}"


def test_the_api_imports_neither_the_estimators_nor_the_tools():
    """(fastnn's __init__ imports the estimators on first use of fastnn.MLPClassifier, so that
    import fastnn works without scikit-learn; fastnn.export, which converts the estimators
    too, imports them and scikit-learn only for an estimator; fastnn.model_selection, the
    searches over the estimators, is scikit-learn's layer as they are.)"""
    for name, path in fastnn_modules().items():
        if (name.startswith(("fastnn.tools", "fastnn.estimators", "fastnn.export",
                              "fastnn.model_selection"))
                or name in ("fastnn", "fastnn.__main__")):
            continue
        for imported in imports(path):
            assert not imported.startswith(("fastnn.tools", "fastnn.estimators", "sklearn")), \
                f"{name} imports {imported}"


def test_no_import_circles():
    modules = fastnn_modules()
    graph = {name: {imported for imported in imports(path) if imported in modules and imported != name}
             for name, path in modules.items()}
    visiting, done = [], set()

    def visit(name):
        if name in done:
            return
        assert name not in visiting, " -> ".join(visiting[visiting.index(name):] + [name])
        visiting.append(name)
        for other in sorted(graph[name]):
            if other != "fastnn":  # the package's own __init__, imported by everything
                visit(other)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


PREDICT_ONLY = RECORD_COMPILED + textwrap.dedent("""
    import numpy as np, fastnn, fastnn.model as m
    net = fastnn.MLP([64, 128, 10], hidden="relu", output="softmax", seed=0)
    net.forward(np.zeros((5, 64)))
    narrow = fastnn.MLP([2, 10, 1], seed=0)
    narrow.predict(np.zeros((100, 2)))
    entries = [kernel.__name__ for kernel in [*m.TRAIN.values(), m.THREADED,
                                              *m.LOSS_GRAD.values(), *m.FORWARD.values()]]
    print(*sorted(name.split("__")[0] for name in compiled() if name.split("__")[0] in entries))
""")


def test_predicting_compiles_no_training_kernel(tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path), "PATH": ""}
    done = subprocess.run([sys.executable, "-c", PREDICT_ONLY], capture_output=True, text=True,
                          env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["forward_batched", "forward_narrow"]
