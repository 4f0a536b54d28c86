"""Was this process started by an MPI launcher with more than one rank?

Checked from the environment (no MPI import, so single-process runs never load
MPI): MPICH/Hydra and Slurm's PMI-2 set ``PMI_SIZE``, Open MPI sets
``OMPI_COMM_WORLD_SIZE``, PMIx launchers ``PMIX_SIZE``... and ``srun`` sets
``SLURM_STEP_NUM_TASKS`` inside a job step (an ``sbatch`` script itself is not a step).
"""
from __future__ import annotations

import os

_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS", "SLURM_STEP_NUM_TASKS")


def launcher_size() -> int:
    """Number of ranks the launcher started (1 when not under a launcher)."""
    for var in _SIZE_VARS:
        v = os.environ.get(var)
        if v and v.strip().isdigit():
            if var == "SLURM_STEP_NUM_TASKS" and "SLURM_STEP_ID" not in os.environ:
                continue
            return max(1, int(v))
    return 1


def want_mpi(flag: bool | None) -> bool:
    """``--mpi`` (True), ``--no-mpi`` (False) or detect (None)."""
    if flag is not None:
        return flag
    return launcher_size() > 1
