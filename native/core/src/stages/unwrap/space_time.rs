//! Stage 6: see `pystamps_batch/stages/unwrap/` (to be written).
