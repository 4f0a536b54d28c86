//! `markers` (work in progress).
