//! Stage module `select` (work in progress).
