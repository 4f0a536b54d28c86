//! Stage module `load` (work in progress).
