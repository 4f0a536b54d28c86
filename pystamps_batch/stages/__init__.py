"""StaMPS stages as pure functions from named arrays to named arrays.

Contract of every stage module (except stage 1, whose inputs are the mt_prep files
read by :mod:`pystamps_batch.dataset`)::

    READS: tuple[str, ...]          # artifacts it needs, e.g. ("ps1", "ph1", "bp1")
    OPTIONAL: tuple[str, ...]       # artifacts it uses when present, e.g. ("da1", "la1")
    WRITES: tuple[str, ...]         # artifacts it returns

    def run(inputs, params, kernels, *, log=None) -> dict[str, dict[str, numpy.ndarray]]

``inputs`` maps artifact name (no ``.mat``) to its variables as loaded by
:func:`pystamps_batch.io.matfile.load_mat` (MATLAB 2-D shapes: n x 1 columns,
1 x 1 scalars). ``params`` is a :class:`pystamps_batch.params.Params`; ``kernels``
a :class:`pystamps_batch.kernels.registry.KernelSet` through which every named
hot loop is called; ``log`` an optional ``callable(str)`` for progress lines.
The return value maps artifact name to the variables to save, with StaMPS'
variable names, shapes and dtypes (spec C.0). The runner does all file I/O and
publishes the outputs atomically. Bad input raises
:class:`pystamps_batch.errors.StageError` (or ``InputError``) with one line that
names the cause.
"""
