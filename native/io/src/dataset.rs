//! `dataset` (work in progress).
