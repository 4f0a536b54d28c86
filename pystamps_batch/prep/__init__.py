"""Dataset preparation without StaMPS' csh scripts and C helpers (``pystamps prep ...``).

Modules: ``ampstats`` (calamp / selpsc_patch amplitude statistics: the kernel boundary),
``snap`` (mt_prep_snap: a SNAP StaMPS export -> a prepared dataset root), ``cli``
(argument parsing pieces for the ``prep`` subcommand).
"""
