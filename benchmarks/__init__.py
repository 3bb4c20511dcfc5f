"""fastnn's benchmark suites, both built on the workloads of fastnn/tools/workloads.py.

- asv (airspeed velocity, asv.conf.json at the top): the modules ``bench_*.py`` here.
  asv imports every module of this package, so nothing here imports pytest.
- pytest-benchmark: ``pytest_suite/`` (no ``__init__.py``, so asv does not import it).
  pytest collects only ``test_*.py``, so it does not import the asv modules.
"""
