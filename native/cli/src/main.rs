//! `pystamps-native`: StaMPS processing without a Python interpreter.
//!
//! What is here: the stage runner (`run`, `status`; the same plans, markers, config and
//! JSON as `pystamps run` / `pystamps status`), the list of compiled kernels
//! (`describe-backends`), their self-tests (`self-test`) and a per-kernel benchmark (`bench`).
//! Stages 1-5 (5a, 5b) run natively; a plan that needs another stage is refused (exit 2).

mod args;
mod bench;
mod gen;
mod lock;
mod membudget;
mod run;
mod stages;
mod status;

use std::process::ExitCode;

const USAGE: &str = "\
usage: pystamps-native [--version] [--help] [--config FILE] <command> [options]

StaMPS processing of pystamps-batch, compiled, without a Python interpreter.

commands:
  run --dataset DIR [--start-step A] [--end-step B] [--dry-run] [--force] [--patch NAME]
      [--json] [--config FILE] [--native-only] [--backend B] [--stage2-kernel-backend B]
      [--cpu-workers N] [--stage2-native-threads N] [--patch-workers N]
        run a stage range with the native stages: the same units, skip rules, completion
        markers (.pystamps/stage-<label>.json), artifacts (MAT v5), log lines and --json
        reports as `pystamps run`, so either runner resumes where the other stopped
        (run --help for details)
  status --dataset DIR [--json]
        which stage artifacts exist, per patch and merged (as `pystamps status`)
  describe-backends [--json]
        list the kernels compiled into this binary (the registry names of
        pystamps_batch.kernels) and the CPU features used at run time
  self-test
        run each kernel on small generated inputs and check known properties
  bench [--size small|large] [--threads N] [--repeat K] [--json]
        time every kernel on generated inputs (best of K repeats; threads 0 =
        all cores this process may use), plus the peak complex multiply-add
        rate of the topofit inner loop (a microbenchmark on data in L1 cache)

native now (every stage; no Python interpreter is started):
  stages 1 ps_load_initial (doris and snap/gamma flavours), 2 ps_est_gamma_quick,
  3 ps_select, 4 ps_weed, 5a ps_correct_phase, 5b ps_merge_patches (with the
  ifg std), 6 ps_unwrap (3D_FULL; runs the snaphu executable of $PYSTAMPS_SNAPHU,
  the `snaphu` wheel of the active or enclosing Python environment, or PATH),
  7 ps_calc_scla, 8 ps_scn_filt (with mean_v and ps_plot_v-*); MAT v5
  reading/writing (sparse included), the YAML run config, completion markers,
  the dataset lock, status and dry-run plans, memory-bounded --patch-workers
not covered:
  MAT v7.3 (HDF5) files (variables of 2 GiB or more); what `pystamps run` refuses
        too (small-baseline networks, unwrap methods other than 3D/3D_FULL)
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
        println!("native stages: {} (`run`); the others need `pystamps run`", stages::NATIVE_LABELS.join(", "));
    }
}

/// `pystamps-native mat-roundtrip IN OUT` (hidden, for tests): read a .mat and write its
/// variables again with this binary's writer; prints the variables read.
fn mat_roundtrip(rest: &[String]) -> ExitCode {
    let [inp, out] = rest else {
        eprintln!("usage: pystamps-native mat-roundtrip IN.mat OUT.mat");
        return ExitCode::from(2);
    };
    match pystamps_io::mat::read_mat(std::path::Path::new(inp)) {
        Ok(f) => {
            for (n, c) in &f.unsupported {
                eprintln!("pystamps-native mat-roundtrip: {n}: {c} variables are not decoded (left out)");
            }
            for (n, a) in &f.vars {
                println!("{n} {} x {}", a.rows, a.cols);
            }
            match pystamps_io::mat::write_mat_dims(std::path::Path::new(out), &f.vars, &f.nd_dims) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("pystamps-native: error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Err(e) => {
            eprintln!("pystamps-native: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// `--help` of the subcommands that have no parser of their own (run and status print theirs).
fn sub_help(cmd: &str) -> Option<&'static str> {
    Some(match cmd {
        "describe-backends" | "kernels" => {
            "usage: pystamps-native describe-backends [--json]\n\n\
             List the kernels compiled into this binary (the registry names of pystamps_batch.kernels,\n\
             each with a one-line summary) and the CPU features used at run time; --json prints them\n\
             as a JSON object.\n"
        }
        "self-test" => {
            "usage: pystamps-native self-test\n\n\
             Run every kernel on small generated inputs and check known properties (a pure phase ramp\n\
             is found by topofit, histogram counts add up, ...); exit status 1 if any check fails.\n"
        }
        "bench" => {
            "usage: pystamps-native bench [--size small|large] [--threads N] [--repeat K] [--json]\n\n\
             Time every kernel on generated inputs (best of K repeats, default 3; --threads 0 = all\n\
             cores this process may use), plus the peak complex multiply-add rate of the topofit\n\
             inner loop on data in L1 cache. --size large uses 5x the inputs. No Python is involved;\n\
             `pystamps bench` compares python and native kernels side by side.\n"
        }
        "mat-roundtrip" => {
            "usage: pystamps-native mat-roundtrip IN.mat OUT.mat\n\n\
             Read a MAT v5 file with the runner's reader and write it back with its writer (a check\n\
             of the MAT I/O used by the tests); variables it cannot read are named on stderr.\n"
        }
        _ => return None,
    })
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // a global `--config FILE` before the command, as `pystamps --config FILE run ...`
    let mut global_config: Option<String> = None;
    if let Some(i) = args.iter().position(|a| a == "--config" || a.starts_with("--config=")) {
        if i == 0 {
            if let Some(v) = args[0].strip_prefix("--config=") {
                global_config = Some(v.to_string());
                args.remove(0);
            } else if args.len() > 1 {
                global_config = Some(args[1].clone());
                args.drain(0..2);
            }
        }
    }
    let rest = if args.is_empty() { &[][..] } else { &args[1..] };
    let wants_help = rest.iter().any(|a| a == "--help" || a == "-h");
    if wants_help {
        if let Some(h) = args.first().and_then(|c| sub_help(c)) {
            print!("{h}");
            return ExitCode::SUCCESS;
        }
    }
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
        Some("run") => run::main(rest, global_config.as_deref()),
        Some("status") => status::main(rest, global_config.as_deref()),
        Some("mat-roundtrip") => mat_roundtrip(rest),
        Some(other) => {
            eprintln!("pystamps-native: unknown command '{other}' (see --help)");
            ExitCode::from(2)
        }
    }
}
