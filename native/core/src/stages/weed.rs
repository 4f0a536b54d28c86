//! Stage module `weed` (work in progress).
