"""Spatial filters shared by several stages (CLAP adaptive filter, low-pass design)."""
from .clap import clap_filt, clap_filt_patch, clap_filt_stack, clap_taper, low_pass_filter

__all__ = ["clap_filt", "clap_filt_stack", "clap_filt_patch", "clap_taper", "low_pass_filter"]
