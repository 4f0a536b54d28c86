//! `config` (work in progress).
