//! `pystamps-native status`: which stage artifacts exist per patch and at the merged level,
//! the same JSON (and table) as `pystamps status` (`pystamps_batch.status`).

use std::path::Path;
use std::process::ExitCode;

use serde_json::{json, Map, Value};

use pystamps_core::stages::arrays::MatData;
use pystamps_io::config::{self, RunConfig};
use pystamps_io::layout::{self, Layout};
use pystamps_io::mat;
use pystamps_io::units::{mat_path, StateOracle, Unit, PATCH};

use crate::args::{self, Kind};

pub const HELP: &str = "\
usage: pystamps-native status --dataset DIR [--json] [--config FILE]

Which stage artifacts exist, per patch and merged (the same report as `pystamps status`).

options:
  --dataset DIR   dataset root (PATCH_n folders, patch.list, ...)
  --json          print JSON instead of a table
  --config FILE   YAML run configuration (its stamps: overrides decide staleness)
";

fn stage_state(oracle: &mut StateOracle, u: &Unit) -> Result<Value, String> {
    let s = u.spec;
    let present: Vec<&str> = s.writes.iter().copied().filter(|n| mat_path(&u.folder, n).is_file()).collect();
    let missing: Vec<&str> = s.writes.iter().copied().filter(|n| !present.contains(n)).collect();
    let st = oracle.state(u).map_err(|e| e.0)?;
    Ok(json!({"stage": s.stage, "label": s.label, "function": s.name, "complete": st.complete(),
              "state": st.status, "reason": st.reason, "present": present, "missing": missing}))
}

fn n_ps(folder: &Path, name: &str) -> Value {
    let p = mat_path(folder, name);
    if !p.is_file() {
        return Value::Null;
    }
    let Ok(f) = mat::read_mat(&p) else { return Value::Null };
    let v = match f.get("n_ps").map(|a| &a.data) {
        Some(MatData::F64(v)) => v.first().copied(),
        Some(MatData::F32(v)) => v.first().map(|&x| x as f64),
        Some(MatData::I32(v)) => v.first().map(|&x| x as f64),
        Some(MatData::U8(v)) => v.first().map(|&x| x as f64),
        _ => None,
    };
    match v {
        Some(x) if x.is_finite() => Value::from(x.trunc() as i64),
        _ => Value::Null,
    }
}

fn last_complete(states: &[Value], before: i64) -> i64 {
    let mut last = before;
    for s in states {
        if s["complete"] != Value::Bool(true) {
            break;
        }
        last = s["stage"].as_i64().unwrap_or(last);
    }
    last
}

/// The status report (`pystamps_batch.status.collect_status`).
pub fn collect_status(ds: &Layout, cfg: &RunConfig) -> Result<Value, String> {
    let mut oracle = StateOracle::new(ds, cfg);
    let every = oracle.every.clone();
    let mut patches = Vec::new();
    for p in &ds.patches {
        let mut states = Vec::new();
        for u in every.iter().filter(|u| u.spec.scope == PATCH && u.target == p.name) {
            states.push(stage_state(&mut oracle, u)?);
        }
        let stage = last_complete(&states, 0);
        patches.push(json!({
            "patch": p.name, "exists": p.path.is_dir(),
            "candidates": p.n_cand, "ps_after_stage1": n_ps(&p.path, "ps1"), "ps_after_stage4": n_ps(&p.path, "ps2"),
            "stage": stage, "stages": states,
        }));
    }
    let mut mstates = Vec::new();
    for u in every.iter().filter(|u| u.spec.scope != PATCH) {
        mstates.push(stage_state(&mut oracle, u)?);
    }
    let patch_stage = patches.iter().map(|p| p["stage"].as_i64().unwrap_or(0)).min().unwrap_or(0);
    let mut merged_stage = if patch_stage >= 5 || patches.is_empty() { last_complete(&mstates, 0) } else { 0 };
    if merged_stage == 0 && mstates.iter().take(1).all(|s| s["complete"] == Value::Bool(true)) {
        merged_stage = last_complete(&mstates, 0);
    }
    let root = std::fs::canonicalize(&ds.root).unwrap_or_else(|_| ds.root.clone());
    let mut out = Map::new();
    out.insert("dataset".into(), Value::from(root.display().to_string()));
    out.insert("flavour".into(), Value::from(ds.flavour.clone()));
    out.insert("width".into(), json!(ds.width));
    out.insert("length".into(), json!(ds.length));
    out.insert("master_day".into(), json!(ds.master_day));
    out.insert("n_ifg".into(), Value::from(ds.n_ifg()));
    out.insert("patch_list".into(), Value::from(ds.patch_list_source.clone()));
    out.insert("candidates".into(), Value::from(ds.patches.iter().map(|p| p.n_cand.unwrap_or(0)).sum::<usize>()));
    out.insert("patches".into(), Value::Array(patches));
    out.insert("merged".into(), json!({"stage": merged_stage, "ps": n_ps(&ds.root, "ps2"), "stages": mstates}));
    Ok(Value::Object(out))
}

fn mark(s: &Value) -> &'static str {
    if s["complete"] == Value::Bool(true) {
        "x"
    } else if s["state"] == "stale" || s["state"] == "interrupted" {
        "!"
    } else if s["present"].as_array().is_some_and(|a| !a.is_empty()) {
        "~"
    } else {
        "."
    }
}

fn opt(v: &Value) -> String {
    if v.is_null() { "-".into() } else { v.to_string().trim_matches('"').to_string() }
}

/// The table of `pystamps status` (`format_status`).
pub fn format_status(st: &Value) -> String {
    let mut lines = vec![
        format!("dataset  {}", opt(&st["dataset"])),
        format!(
            "flavour  {}   size {} x {} px   master {}   {} ifgs   patches from {}",
            opt(&st["flavour"]),
            if st["width"].is_null() { "None".into() } else { opt(&st["width"]) },
            if st["length"].is_null() { "None".into() } else { opt(&st["length"]) },
            if st["master_day"].is_null() { "None".into() } else { opt(&st["master_day"]) },
            opt(&st["n_ifg"]),
            opt(&st["patch_list"])
        ),
        String::new(),
        format!("{:<12}{:>11}{:>10}{:>10}  {:<5} stages 1 2 3 4 5a", "patch", "candidates", "stage1 PS", "weeded PS", "done"),
    ];
    let empty = vec![];
    let patches = st["patches"].as_array().unwrap_or(&empty);
    for p in patches {
        let marks: Vec<&str> = p["stages"].as_array().unwrap_or(&empty).iter().map(mark).collect();
        lines.push(format!(
            "{:<12}{:>11}{:>10}{:>10}  {:<5} {:6} {}",
            opt(&p["patch"]),
            opt(&p["candidates"]),
            opt(&p["ps_after_stage1"]),
            opt(&p["ps_after_stage4"]),
            opt(&p["stage"]),
            "",
            marks.join(" ")
        ));
    }
    let m = &st["merged"];
    let marks: Vec<&str> = m["stages"].as_array().unwrap_or(&empty).iter().map(mark).collect();
    lines.push(String::new());
    lines.push(format!(
        "{:<12}{:>11}{:>10}{:>10}  {:<5} stages 5b 6 7 8: {}",
        "merged",
        opt(&st["candidates"]),
        "",
        opt(&m["ps"]),
        opt(&m["stage"]),
        marks.join(" ")
    ));
    lines.push("(x complete, ! stale or interrupted, ~ partial, . absent; 'done' = last stage of an unbroken complete run)".into());
    let mut notes = Vec::new();
    for p in patches {
        for s in p["stages"].as_array().unwrap_or(&empty) {
            if s["state"] == "stale" || s["state"] == "interrupted" {
                notes.push(format!("  {} stage {}: {}: {}", opt(&p["patch"]), opt(&s["label"]), opt(&s["state"]), opt(&s["reason"])));
            }
        }
    }
    for s in m["stages"].as_array().unwrap_or(&empty) {
        if s["state"] == "stale" || s["state"] == "interrupted" {
            notes.push(format!("  merged stage {}: {}: {}", opt(&s["label"]), opt(&s["state"]), opt(&s["reason"])));
        }
    }
    if !notes.is_empty() {
        lines.push("needs a rerun:".into());
        lines.extend(notes);
    }
    lines.join("\n")
}

/// Entry point of `status`.
pub fn main(argv: &[String], global_config: Option<&str>) -> ExitCode {
    let spec = [("--dataset", Kind::Value), ("--json", Kind::Flag), ("--config", Kind::Value), ("--help", Kind::Flag), ("-h", Kind::Flag)];
    let a = match args::parse(argv, &spec) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("usage: pystamps-native status --dataset DIR [--json]");
            eprintln!("pystamps-native status: error: {e}");
            return ExitCode::from(2);
        }
    };
    if a.flag("--help") || a.flag("-h") {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let res = (|| -> Result<Value, String> {
        let dir = a.value("--dataset").ok_or("the following arguments are required: --dataset")?;
        let cfg = config::load_config(a.value("--config").or(global_config).map(Path::new)).map_err(|e| e.0)?;
        let ds = layout::open_layout(Path::new(dir)).map_err(|e| e.0)?;
        collect_status(&ds, &cfg)
    })();
    match res {
        Ok(st) => {
            if a.flag("--json") {
                println!("{}", serde_json::to_string_pretty(&st).unwrap_or_default());
            } else {
                println!("{}", format_status(&st));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pystamps-native: error: {e}");
            ExitCode::from(2)
        }
    }
}
