//! StaMPS stages as pure functions from named arrays to named arrays (no file I/O, no Python).
//!
//! Each module mirrors one Python stage module of `pystamps_batch.stages` and is the one
//! implementation used by both the PyO3 binding (parity tests against the Python stage)
//! and the standalone runner of `pystamps-native` (which does the file I/O around it).

pub mod arrays;
pub mod correct;
pub mod gamma;
pub mod load;
pub mod merge;
pub mod params;
pub mod scla;
pub mod scn;
pub mod select;
pub mod unwrap;
pub mod weed;
