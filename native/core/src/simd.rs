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
