"""pystamps-batch: StaMPS persistent-scatterer InSAR processing, stages 1-8.

Python stages with Rust kernels (``pystamps_batch._native``), an MPI-aware driver,
and a container image. The command-line entry point is :mod:`pystamps_batch.cli`.
"""

from ._numerics import pin_numpy_dispatch as _pin

_pin()          # before numpy is imported anywhere: same float results on every CPU

__version__ = "0.1.0"
