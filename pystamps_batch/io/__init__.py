"""File formats: MATLAB .mat (atomic publish), later NetCDF and CSV."""
