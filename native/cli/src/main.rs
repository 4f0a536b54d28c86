//! `pystamps-native`: StaMPS processing without a Python interpreter.
//!
//! This first version exposes the kernels' self-check; the stage runner lands
//! with the standalone-runner issue. Unknown commands exit with status 2.

use std::process::ExitCode;

const USAGE: &str = "usage: pystamps-native [--version] [--help] <command>\n\ncommands:\n  kernels    list the compiled kernels of pystamps-core\n";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("--help") | Some("-h") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some("--version") | Some("-V") => {
            println!("pystamps-native {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("kernels") => {
            for k in ["stage2_histogram", "stage2_topofit", "stage2_topofit_row_invariant", "stage2_topofit_coh_row_invariant"] {
                println!("{k}");
            }
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("pystamps-native: unknown command '{other}' (see --help)");
            ExitCode::from(2)
        }
    }
}
