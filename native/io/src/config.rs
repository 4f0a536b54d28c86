//! The YAML (or JSON) run config, validated with the schema and the one-line messages of
//! `pystamps_batch.config`:
//!
//! ```yaml
//! runtime:
//!   backend: auto | python | native
//!   stage2_kernel_backend: auto | python | native
//!   stage2_native_threads: 0      # >= 0; 0 = all cores this process may use
//!   kernel_backend_overrides: {kernel_name: python | native}
//!   io_workers: 8                 # >= 1
//!   cpu_workers: 0                # >= 0
//!   patch_engine: python | native # per-patch engine of the MPI driver (pystamps run --mpi)
//! stamps:                         # StaMPS parameter overrides (spec B.2 names)
//!   clap_win: 32
//! ```
//!
//! Known difference: PyYAML reads YAML 1.1 (`yes`/`no`/`on`/`off` unquoted are booleans),
//! this reader YAML 1.2 (they are strings); the string flags StaMPS uses (`y`/`n`) are
//! strings in both.

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml_ng::Value as Y;

use crate::params::{self, Raw, Value};

/// A config or command-line problem (the Python side's `ConfigError`); exit status 2.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

pub const BACKENDS: [&str; 3] = ["auto", "python", "native"];
pub const OVERRIDE_BACKENDS: [&str; 2] = ["python", "native"];
pub const RUNTIME_KEYS: [&str; 7] = [
    "backend",
    "stage2_kernel_backend",
    "stage2_native_threads",
    "kernel_backend_overrides",
    "io_workers",
    "cpu_workers",
    "patch_engine",
];
/// `pystamps_batch.config.PATCH_ENGINES`.
pub const PATCH_ENGINES: [&str; 2] = ["python", "native"];
pub const TOP_KEYS: [&str; 2] = ["runtime", "stamps"];
/// `pystamps_batch.kernels.names.KERNEL_NAMES`, in the same order.
pub const KERNEL_NAMES: [&str; 12] = [
    "stage2_grid_accumulate",
    "stage2_histogram",
    "stage2_topofit",
    "stage2_topofit_row_invariant",
    "stage2_topofit_coh_row_invariant",
    "stage4_edge_stats",
    "stage7_scla",
    "stage8_edge_noise",
    "stage2_clap_filter",
    "stage3_clap_filt_patch",
    "stage2_random_phase_coh",
    "stage3_patch_phase",
];

/// How to run: kernel backends and worker counts.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeConfig {
    pub backend: String,
    pub stage2_kernel_backend: String,
    pub stage2_native_threads: i64,
    pub kernel_backend_overrides: BTreeMap<String, String>,
    pub io_workers: i64,
    pub cpu_workers: i64,
    /// what runs a patch's stages under the Python MPI driver (validated here, used there)
    pub patch_engine: String,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            backend: "auto".into(),
            stage2_kernel_backend: "auto".into(),
            stage2_native_threads: 0,
            kernel_backend_overrides: BTreeMap::new(),
            io_workers: 8,
            cpu_workers: 0,
            patch_engine: "python".into(),
        }
    }
}

/// The whole config.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunConfig {
    pub runtime: RuntimeConfig,
    pub stamps: BTreeMap<String, Value>,
    pub source: Option<String>,
}

fn where_(src: Option<&str>, key: &str) -> String {
    match src {
        Some(s) => format!("{s}: {key}"),
        None => key.to_string(),
    }
}

/// Python `repr` of a parsed YAML value.
fn repr(v: &Y) -> String {
    match v {
        Y::Null => "None".into(),
        Y::Bool(b) => if *b { "True".into() } else { "False".into() },
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else {
                let x = n.as_f64().unwrap_or(f64::NAN);
                if !x.is_finite() {
                    params::py_float_str(x)
                } else if x.fract() == 0.0 && x.abs() < 1e16 {
                    format!("{x:.1}")
                } else {
                    format!("{x}")
                }
            }
        }
        Y::String(s) => format!("'{s}'"),
        Y::Sequence(s) => format!("[{}]", s.iter().map(repr).collect::<Vec<_>>().join(", ")),
        Y::Mapping(m) => format!(
            "{{{}}}",
            m.iter().map(|(k, v)| format!("{}: {}", repr(k), repr(v))).collect::<Vec<_>>().join(", ")
        ),
        Y::Tagged(t) => repr(&t.value),
    }
}

fn key_str(k: &Y) -> String {
    match k {
        Y::String(s) => s.clone(),
        other => {
            let r = repr(other);
            r.trim_matches('\'').to_string()
        }
    }
}

/// Python truthiness (for `data.get(k) or {}`).
fn falsy(v: Option<&Y>) -> bool {
    match v {
        None | Some(Y::Null) => true,
        Some(Y::Bool(b)) => !b,
        Some(Y::Number(n)) => n.as_f64() == Some(0.0),
        Some(Y::String(s)) => s.is_empty(),
        Some(Y::Sequence(s)) => s.is_empty(),
        Some(Y::Mapping(m)) => m.is_empty(),
        Some(Y::Tagged(_)) => false,
    }
}

fn get<'a>(m: &'a serde_yaml_ng::Mapping, k: &str) -> Option<&'a Y> {
    m.get(Y::String(k.to_string()))
}

fn int_at_least(v: Option<&Y>, default: i64, key: &str, low: i64, src: Option<&str>) -> Result<i64, ConfigError> {
    let Some(v) = v else { return Ok(default) };
    match v {
        Y::Number(n) if n.as_i64().is_some_and(|i| i >= low) => Ok(n.as_i64().unwrap_or(default)),
        _ => Err(ConfigError(format!("{}: got {}, expected an integer >= {low}", where_(src, key), repr(v)))),
    }
}

fn choice(v: Option<&Y>, default: &str, key: &str, allowed: &[&str], src: Option<&str>) -> Result<String, ConfigError> {
    let Some(v) = v else { return Ok(default.to_string()) };
    match v {
        Y::String(s) if allowed.contains(&s.as_str()) => Ok(s.clone()),
        _ => Err(ConfigError(format!("{}: got {}, expected one of {}", where_(src, key), repr(v), allowed.join(", ")))),
    }
}

fn raw_of(v: &Y) -> Raw {
    match v {
        Y::Null => Raw::Null,
        Y::Bool(b) => Raw::Bool(*b),
        Y::Number(n) => match n.as_i64() {
            Some(i) => Raw::Int(i),
            None => Raw::Num(n.as_f64().unwrap_or(f64::NAN)),
        },
        Y::String(s) => Raw::Str(s.clone()),
        Y::Sequence(s) => {
            let nums: Option<Vec<f64>> = s
                .iter()
                .map(|x| match x {
                    Y::Number(n) => n.as_f64(),
                    Y::Bool(b) => Some(*b as u8 as f64),
                    _ => None,
                })
                .collect();
            nums.map(Raw::List).unwrap_or_else(|| Raw::Other(repr(v)))
        }
        other => Raw::Other(repr(other)),
    }
}

/// Validate a parsed YAML document and build a [`RunConfig`].
pub fn parse_config(data: &Y, source: Option<&str>) -> Result<RunConfig, ConfigError> {
    let empty = serde_yaml_ng::Mapping::new();
    let top = match data {
        Y::Null => &empty,
        Y::Mapping(m) => m,
        _ => {
            return Err(ConfigError(format!(
                "{}: top level must be a mapping with keys {}",
                source.unwrap_or("config"),
                TOP_KEYS.join(", ")
            )))
        }
    };
    for k in top.keys() {
        let ks = key_str(k);
        if !TOP_KEYS.contains(&ks.as_str()) {
            return Err(ConfigError(format!("{}: unknown key, expected one of {}", where_(source, &ks), TOP_KEYS.join(", "))));
        }
    }
    let rt = if falsy(get(top, "runtime")) {
        &empty
    } else {
        match get(top, "runtime") {
            Some(Y::Mapping(m)) => m,
            _ => return Err(ConfigError(format!("{}: expected a mapping", where_(source, "runtime")))),
        }
    };
    for k in rt.keys() {
        let ks = key_str(k);
        if !RUNTIME_KEYS.contains(&ks.as_str()) {
            return Err(ConfigError(format!(
                "{}: unknown key, expected one of {}",
                where_(source, &format!("runtime.{ks}")),
                RUNTIME_KEYS.join(", ")
            )));
        }
    }
    let d = RuntimeConfig::default();
    let backend = choice(get(rt, "backend"), &d.backend, "runtime.backend", &BACKENDS, source)?;
    let s2 = choice(get(rt, "stage2_kernel_backend"), &d.stage2_kernel_backend, "runtime.stage2_kernel_backend", &BACKENDS, source)?;
    let s2t = int_at_least(get(rt, "stage2_native_threads"), 0, "runtime.stage2_native_threads", 0, source)?;
    let iow = int_at_least(get(rt, "io_workers"), 8, "runtime.io_workers", 1, source)?;
    let cpw = int_at_least(get(rt, "cpu_workers"), 0, "runtime.cpu_workers", 0, source)?;
    let engine = choice(get(rt, "patch_engine"), &d.patch_engine, "runtime.patch_engine", &PATCH_ENGINES, source)?;
    let mut overrides = BTreeMap::new();
    if !falsy(get(rt, "kernel_backend_overrides")) {
        let Some(Y::Mapping(ov)) = get(rt, "kernel_backend_overrides") else {
            return Err(ConfigError(format!(
                "{}: expected a mapping of kernel name to backend",
                where_(source, "runtime.kernel_backend_overrides")
            )));
        };
        for (name, b) in ov {
            let n = key_str(name);
            if !KERNEL_NAMES.contains(&n.as_str()) {
                return Err(ConfigError(format!(
                    "{}: unknown kernel, expected one of {}",
                    where_(source, &format!("runtime.kernel_backend_overrides.{n}")),
                    KERNEL_NAMES.join(", ")
                )));
            }
            let c = choice(Some(b), "", &format!("runtime.kernel_backend_overrides.{n}"), &OVERRIDE_BACKENDS, source)?;
            overrides.insert(n, c);
        }
    }
    let mut stamps = BTreeMap::new();
    if !falsy(get(top, "stamps")) {
        let Some(Y::Mapping(st)) = get(top, "stamps") else {
            return Err(ConfigError(format!(
                "{}: expected a mapping of StaMPS parameter names to values",
                where_(source, "stamps")
            )));
        };
        for (name, v) in st {
            let n = key_str(name);
            if params::default_of(&n).is_none() {
                return Err(ConfigError(format!(
                    "{}: unknown StaMPS parameter (see 'pystamps params' or spec B.2 for the names)",
                    where_(source, &format!("stamps.{n}"))
                )));
            }
            let cv = params::coerce(&n, raw_of(v))
                .map_err(|e| ConfigError(format!("{}: {e}", where_(source, &format!("stamps.{n}")))))?;
            if matches!(cv, Value::Float(x) if x.is_nan()) {
                return Err(ConfigError(format!("{}: NaN is not allowed", where_(source, &format!("stamps.{n}")))));
            }
            stamps.insert(n, cv);
        }
    }
    Ok(RunConfig {
        runtime: RuntimeConfig {
            backend,
            stage2_kernel_backend: s2,
            stage2_native_threads: s2t,
            kernel_backend_overrides: overrides,
            io_workers: iow,
            cpu_workers: cpw,
            patch_engine: engine,
        },
        stamps,
        source: source.map(str::to_string),
    })
}

/// Read and validate a YAML (or JSON) config file; `None` gives the defaults.
pub fn load_config(path: Option<&Path>) -> Result<RunConfig, ConfigError> {
    let Some(p) = path else { return Ok(RunConfig::default()) };
    if !p.is_file() {
        return Err(ConfigError(format!("{}: config file not found", p.display())));
    }
    let text = std::fs::read_to_string(p).map_err(|e| ConfigError(format!("{}: cannot read config ({e})", p.display())))?;
    let data: Y = if text.trim().is_empty() {
        Y::Null
    } else {
        serde_yaml_ng::from_str(&text).map_err(|e| {
            let at = e.location().map(|l| format!(" at line {}", l.line())).unwrap_or_default();
            ConfigError(format!("{}: not valid YAML{at}", p.display()))
        })?
    };
    parse_config(&data, Some(&p.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<RunConfig, ConfigError> {
        parse_config(&serde_yaml_ng::from_str(s).expect("yaml"), Some("c.yaml"))
    }

    #[test]
    fn good_and_bad() {
        let c = parse("runtime:\n  backend: native\n  cpu_workers: 2\nstamps:\n  clap_win: 16\n").expect("ok");
        assert_eq!(c.runtime.backend, "native");
        assert_eq!(c.stamps["clap_win"], Value::Int(16));
        assert_eq!(
            parse("runtime:\n  backend: fast\n").unwrap_err().0,
            "c.yaml: runtime.backend: got 'fast', expected one of auto, python, native"
        );
        assert_eq!(
            parse("runtime:\n  io_workers: 0\n").unwrap_err().0,
            "c.yaml: runtime.io_workers: got 0, expected an integer >= 1"
        );
        assert_eq!(parse("foo: 1\n").unwrap_err().0, "c.yaml: foo: unknown key, expected one of runtime, stamps");
        assert!(parse("stamps:\n  nope: 1\n").unwrap_err().0.contains("unknown StaMPS parameter"));
        assert_eq!(
            parse("stamps:\n  clap_win: 1.5\n").unwrap_err().0,
            "c.yaml: stamps.clap_win: expected an integer, got 1.5"
        );
    }
}
