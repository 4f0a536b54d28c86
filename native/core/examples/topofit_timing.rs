//! Time the topofit kernels on generated data: `cargo run --release --example topofit_timing -- [n] [m] [threads] [reps]`.
use ndarray::{Array1, Array2};
use num_complex::{Complex32, Complex64};
use pystamps_core::topofit::{topofit_coh_f64, topofit_f32, Baselines};

fn main() {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse().unwrap())
        .collect();
    let (n, m, th, reps) = (
        *a.first().unwrap_or(&50000),
        *a.get(1).unwrap_or(&30),
        *a.get(2).unwrap_or(&1),
        *a.get(3).unwrap_or(&10),
    );
    let b = Array1::from_shape_fn(m, |k| ((k * 37 % 23) as f32 - 11.0) * 27.0);
    let z = Array2::from_shape_fn((n, m), |(p, k)| {
        let ph = ((p % 97) as f32 - 48.0) * 6e-5 * b[k] + ((p * 31 + k * 17) % 101) as f32 * 0.01;
        Complex32::new(ph.cos(), ph.sin())
    });
    let z64 = z.mapv(|v| Complex64::new(v.re as f64, v.im as f64));
    let b64 = b.mapv(|v| v as f64);
    let bm = Array2::from_shape_fn((n, m), |(_, k)| b[k]);
    for (name, f) in [
        (
            "row_invariant f32",
            Box::new(|| {
                topofit_f32(z.view(), Baselines::Shared(b.view()), 2.0, th);
            }) as Box<dyn Fn()>,
        ),
        (
            "per-pixel f32",
            Box::new(|| {
                topofit_f32(z.view(), Baselines::PerPixel(bm.view()), 2.0, th);
            }),
        ),
        (
            "coh f64",
            Box::new(|| {
                topofit_coh_f64(z64.view(), b64.view(), 2.0, th);
            }),
        ),
    ] {
        if let Ok(only) = std::env::var("ONLY") {
            if !name.starts_with(&only) {
                continue;
            }
        }
        let mut best = f64::INFINITY;
        for _ in 0..reps {
            let t = std::time::Instant::now();
            f();
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{name}: {:.2} ms ({:.1} ns/element)",
            best * 1e3,
            best * 1e9 / (n * m) as f64
        );
    }
}
