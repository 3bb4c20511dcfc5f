"""Where a process's compile time goes, from numba's event API: each function numba compiles
(``numba:compile``, with the functions it compiles for its callees nested inside it) and the
time spent holding LLVM's lock (``numba:llvm_lock``: optimising and emitting machine code).
Used by fastnn.tools.startup inside its fresh processes; it uses numba only.
"""
import time

from numba.core import event


class CompileEvents(event.Listener):
    """Listens to numba's compile events from ``start()`` on; ``summary()`` says what they
    cost. A function's own seconds are its compile time less that of the functions compiled
    inside it, and of these own seconds, the LLVM part is the time under LLVM's lock."""

    KINDS = ("numba:compile", "numba:llvm_lock")

    def __init__(self):
        self._open = []     # [name, started, nested compile seconds, own LLVM seconds]
        self._llvm_depth = 0
        self._llvm_started = 0.0
        self.compiled = []  # (name, seconds, own seconds, own LLVM seconds), in end order
        self.compiling_s = 0.0  # seconds in the outermost compile calls

    def start(self):
        for kind in self.KINDS:
            event.register(kind, self)
        return self

    def on_start(self, ev):
        if ev.kind == "numba:compile":
            self._open.append([ev.data["dispatcher"].py_func.__qualname__,
                               time.perf_counter(), 0.0, 0.0])
        else:
            self._llvm_depth += 1
            if self._llvm_depth == 1:
                self._llvm_started = time.perf_counter()

    def on_end(self, ev):
        if ev.kind == "numba:compile":
            name, started, nested, llvm = self._open.pop()
            seconds = time.perf_counter() - started
            self.compiled.append((name, seconds, seconds - nested, llvm))
            if self._open:
                self._open[-1][2] += seconds
            else:
                self.compiling_s += seconds
        else:
            self._llvm_depth -= 1
            if self._llvm_depth == 0 and self._open:
                self._open[-1][3] += time.perf_counter() - self._llvm_started

    def summary(self, slowest=3):
        """{"compiling_s": seconds in numba's outermost compile calls, "llvm_s": of which
        under LLVM's lock, "functions": how many functions numba compiled, "slowest": the
        ``slowest`` functions by own seconds, as (name, own seconds, own LLVM seconds)}."""
        return {"compiling_s": self.compiling_s,
                "llvm_s": sum(llvm for _, _, _, llvm in self.compiled),
                "functions": len(self.compiled),
                "slowest": [(name, own, llvm) for name, _, own, llvm in
                            sorted(self.compiled, key=lambda row: -row[2])[:slowest]]}
