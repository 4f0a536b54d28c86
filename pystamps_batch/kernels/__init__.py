"""Kernel registry: each named hot loop has a python (numpy) and a native (Rust) backend.

Import :mod:`pystamps_batch.kernels.registry` for :class:`KernelSet`.
"""
