//! pystamps-core: the StaMPS numerical kernels of pystamps-batch, in pure Rust.
//!
//! Nothing here knows about Python: kernels take `ndarray` views and return owned
//! arrays. Parallelism uses rayon inside a pool sized by the caller ([`pool`]).
//! The PyO3 crate (`native/python`) only converts arrays and releases the GIL.

#[macro_use]
pub mod simd;
pub mod clap;
pub mod geo;
pub mod gridding;
pub mod histogram;
pub mod lanes;
pub mod mt19937;
pub mod num;
pub mod pool;
pub mod scla;
pub mod scn;
pub mod stages;
pub mod topofit;
pub mod topofit_lanes;
pub mod vmath;
#[cfg(target_arch = "x86_64")]
pub mod vmath_avx2;
pub mod weed_noise;

pub use num_complex::{Complex32, Complex64};
