"""Drivers: how the runner's units are spread over processes (local, or MPI ranks)."""
