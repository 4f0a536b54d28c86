//! pystamps-io: everything the native runner reads and writes, kept out of the numerical core.
//!
//! - [`mat`]: MAT v5 files (read and atomic write) of [`pystamps_core::stages::arrays::MatArray`]s
//! - [`publish`]: atomic publication (temporary name in the same folder, fsync, rename)
//! - [`dataset`]: the StaMPS dataset root (mt_prep / mt_prep_snap layout) and patch inputs
//! - [`config`]: the YAML run config (same schema and validation as `pystamps_batch.config`)
//! - [`markers`]: per-stage completion markers (`.pystamps/stage-<label>.json`)
//! - [`layout`]: the small files of a dataset root (flavour, patches, sizes, dates) for planning
//! - [`params`]: the effective StaMPS parameters (defaults, parms.mat, step-1 values, overrides)
//! - [`units`]: units of work, their state (complete/missing/stale/interrupted) and the run plan

pub mod config;
pub mod dataset;
pub mod layout;
pub mod markers;
pub mod mat;
pub mod params;
pub mod publish;
pub mod units;
