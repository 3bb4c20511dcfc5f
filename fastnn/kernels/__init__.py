"""Compiled core: Numba kernels over flat contiguous arrays. Nothing here imports the Python layer."""
