//! Stage 6, StaMPS `ps_unwrap` -> `uw_3d` ('3D_FULL', single master), as
//! `pystamps_batch/stages/unwrap/` (read its module docstrings for the algorithm, the spec
//! sections and the precision rules; each Rust module mirrors the Python module of the
//! same name):
//!
//! 1. [`input`] - the wrapped phasors w and the terms added back afterwards;
//! 2. [`grid`] + [`filt`] - gridding and the Goldstein filter -> `uw_grid`;
//! 3. [`arcs`] - nearest-node labelling and the arc network -> `uw_interp`;
//! 4. [`space_time`] - arc look-angle error and 3D_FULL smoothing -> `uw_space_time`;
//! 5. [`costs`] + [`snaphu`] - one snaphu run per interferogram -> `uw_phaseuw`;
//! 6. [`from_grid`] - back to the PS, terms added back -> `phuw2`.
//!
//! [`f32ops`] holds the single-precision arithmetic all of them share; [`stage`] chains
//! the steps ([`run`]).

pub mod arcs;
pub mod costs;
pub mod f32ops;
pub mod filt;
pub mod from_grid;
pub mod grid;
pub mod input;
pub mod snaphu;
pub mod space_time;
pub mod stage;

pub use stage::{run, SnaphuRun, UnwrapInputs};
