//! `pystamps-native`: StaMPS kernels without a Python interpreter.
//!
//! What is here: the list of compiled kernels (`describe-backends`), their self-tests
//! (`self-test`) and a per-kernel benchmark on generated inputs (`bench`).  The full
//! native stage runner (`run --native-only`: reading the dataset and running stages 1-8
//! in Rust) is a later issue; `run` says so and exits with status 2.

mod bench;
mod gen;

use std::process::ExitCode;

const USAGE: &str = "\
usage: pystamps-native [--version] [--help] <command> [options]

StaMPS kernels of pystamps-batch, compiled, without a Python interpreter.

commands:
  describe-backends [--json]
        list the kernels compiled into this binary (the registry names of
        pystamps_batch.kernels) and the CPU features used at run time
  self-test
        run each kernel on small generated inputs and check known properties
  bench [--size small|large] [--threads N] [--repeat K] [--json]
        time every kernel on generated inputs (best of K repeats; threads 0 =
        all cores this process may use), plus the peak complex multiply-add
        rate of the topofit inner loop (a microbenchmark on data in L1 cache)

not there yet:
  reading the YAML run config and a dataset (bench and self-test use generated
        inputs; thread count from --threads, not runtime.stage2_native_threads)
  run --native-only
        the native stage runner (reading a dataset and parms.mat, stages 1-8
        without Python) is a later issue; use `pystamps run` (Python driver
        with native kernels, `runtime.backend: native`) meanwhile
";

/// The registry names of the kernels compiled into pystamps-core, with a one-line summary.
pub const KERNELS: &[(&str, &str)] = &[
    ("stage2_grid_accumulate", "sum pixel rows into grid cells (complex64)"),
    ("stage2_histogram", "MATLAB hist counts (float64)"),
    ("stage2_topofit", "ps_topofit, per-pixel baselines (float32)"),
    ("stage2_topofit_row_invariant", "ps_topofit, one baseline row for all pixels (shared trial basis)"),
    ("stage2_topofit_coh_row_invariant", "coherence-only ps_topofit (float64)"),
    ("stage2_random_phase_coh", "random-phase reference: MT19937 draws + coherence fit (float64)"),
    ("stage2_clap_filter", "step-2 CLAP of a grid stack (overlapping padded windows)"),
    ("stage3_clap_filt_patch", "step-3 CLAP of square blocks"),
    ("stage3_patch_phase", "step-3 patch phase: window, own cell zeroed, CLAP, value at the cell"),
    ("stage4_edge_stats", "ps_weed arc noise std and max"),
    ("stage7_scla", "ps_calc_scla per-pixel least squares (L2, L1)"),
    ("stage8_edge_noise", "ps_scn_filt arc temporal high-pass"),
];

fn cpu_features() -> Vec<&'static str> {
    let mut v = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            v.push("avx2");
        }
        if std::is_x86_feature_detected!("fma") {
            v.push("fma");
        }
    }
    v
}

fn describe(json: bool) {
    let threads = pystamps_core::pool::cpu_budget();
    if json {
        let ks: Vec<String> =
            KERNELS.iter().map(|(k, d)| format!("{{\"name\": \"{k}\", \"backend\": \"native\", \"summary\": \"{d}\"}}")).collect();
        let feats: Vec<String> = cpu_features().iter().map(|f| format!("\"{f}\"")).collect();
        println!(
            "{{\"version\": \"{}\", \"cpu_budget\": {threads}, \"cpu_features\": [{}], \"kernels\": [{}]}}",
            env!("CARGO_PKG_VERSION"),
            feats.join(", "),
            ks.join(", ")
        );
    } else {
        println!("pystamps-native {} (pystamps-core kernels)", env!("CARGO_PKG_VERSION"));
        println!("cpu budget: {threads} thread(s); vector paths: {}", {
            let f = cpu_features();
            if f.is_empty() { "baseline".to_string() } else { f.join(", ") }
        });
        for (k, d) in KERNELS {
            println!("  {k:34} native  {d}");
        }
        println!("not compiled here: the stage runner (`run --native-only`, a later issue)");
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = if args.is_empty() { &[][..] } else { &args[1..] };
    match args.first().map(String::as_str) {
        None | Some("--help") | Some("-h") | Some("help") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some("--version") | Some("-V") => {
            println!("pystamps-native {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("describe-backends") | Some("kernels") => {
            describe(rest.iter().any(|a| a == "--json"));
            ExitCode::SUCCESS
        }
        Some("self-test") => bench::self_test(),
        Some("bench") => match bench::Options::parse(rest) {
            Ok(o) => bench::run(&o),
            Err(e) => {
                eprintln!("pystamps-native bench: {e}");
                ExitCode::from(2)
            }
        },
        Some("run") => {
            eprintln!("pystamps-native run: the native stage runner is not implemented yet (a later issue); use `pystamps run` with `runtime.backend: native`");
            ExitCode::from(2)
        }
        Some(other) => {
            eprintln!("pystamps-native: unknown command '{other}' (see --help)");
            ExitCode::from(2)
        }
    }
}
