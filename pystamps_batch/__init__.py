"""pystamps-batch: StaMPS persistent-scatterer InSAR processing, stages 1-8.

Python stages with Rust kernels (``pystamps_batch._native``), an MPI-aware driver,
and a container image. The command-line entry point is :mod:`pystamps_batch.cli`.
"""

__version__ = "0.1.0"
