"""fastshare's numba kernels, imported as ``fastshare.kernels``.

A leaf package: it imports numpy and numba, never ``fastshare``. Every kernel writes into a
caller-allocated buffer (frames are H×W×3 ``uint8`` C-contiguous), clips to the frame and to the
rectangle it is given, never reads or writes out of bounds, and releases the GIL. Python-side
validation of parameters lives in ``fastshare``; kernels trust their arguments' dtypes and shapes.
"""
