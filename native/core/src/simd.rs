//! Runtime CPU dispatch: compile a hot function a second time for AVX2.
//!
//! The kernels are written as plain loops over slices that LLVM vectorises; the baseline
//! x86-64 target only has SSE2 (4 f32 lanes), so [`avx2_dispatch!`] defines a wrapper
//! that calls an AVX2 build of the same body when the CPU supports it.  Only the vector
//! width changes: Rust never contracts `a * b + c` into a fused multiply-add, so both
//! builds give bit-identical results.

/// `avx2_dispatch!(fn name(args) -> Ret => body_fn);` defines `name`, which runs the
/// `#[inline(always)]` function `body_fn` compiled for AVX2 when available.
#[macro_export]
macro_rules! avx2_dispatch {
    ($vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) -> $ret:ty => $body:path) => {
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn fast($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2 (checked just above)
                    return unsafe { fast($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

/// `fma_dispatch!(fn name(args) -> Ret => body_fn);` defines `name`, which runs
/// `body_fn::<true>` compiled for AVX2 + FMA when the CPU has both, else `body_fn::<false>`.
///
/// The body's const parameter says whether `a * b + c` may be one fused multiply-add
/// ([`crate::lanes::madd32`] and friends): with FMA hardware the result is the fused one
/// (NumPy's complex64 product uses it there too); without, it is emulated exactly where
/// the python backend would fuse and left as two roundings in the periodogram sums.
#[macro_export]
macro_rules! fma_dispatch {
    ($vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) -> $ret:ty => $body:ident) => {
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn fast($($arg: $ty),*) -> $ret {
                    $body::<true>($($arg),*)
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU supports AVX2 and FMA (checked just above)
                    return unsafe { fast($($arg),*) };
                }
            }
            $body::<false>($($arg),*)
        }
    };
}
