//! Stage module `gamma` (work in progress).
