//! Completion markers, written and read exactly as `pystamps_batch.markers` does, so a
//! stage completed by the native runner is `skipped_existing` for the Python runner and
//! the other way round.
//!
//! Per unit folder: `.pystamps/stage-<label>.running` while the unit runs
//! (`{"pid", "host", "started"}`), and `.pystamps/stage-<label>.json` when every output
//! is published (`{"label", "function", "version", "completed", "host", "outputs",
//! "inputs", "params", "kernels"}`, keys sorted, indent 1). A file fingerprint is
//! `{"size", "mtime_ns"[, "sha256"]}`.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub const MARKER_DIR: &str = ".pystamps";

/// The version recorded in markers: the pystamps-batch version the runner mirrors.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn marker_dir(folder: &Path) -> PathBuf {
    folder.join(MARKER_DIR)
}

pub fn done_path(folder: &Path, label: &str) -> PathBuf {
    marker_dir(folder).join(format!("stage-{label}.json"))
}

pub fn running_path(folder: &Path, label: &str) -> PathBuf {
    marker_dir(folder).join(format!("stage-{label}.running"))
}

/// Hex SHA-256 of a file's bytes.
pub fn sha256(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn mtime_ns(md: &std::fs::Metadata) -> i128 {
    md.mtime() as i128 * 1_000_000_000 + md.mtime_nsec() as i128
}

/// `{"size", "mtime_ns"[, "sha256"]}` of a file.
pub fn file_fp(path: &Path, digest: bool) -> std::io::Result<Value> {
    let md = std::fs::metadata(path)?;
    let mut m = Map::new();
    m.insert("size".into(), Value::from(md.len()));
    m.insert("mtime_ns".into(), Value::from(mtime_ns(&md) as i64));
    if digest {
        m.insert("sha256".into(), Value::from(sha256(path)?));
    }
    Ok(Value::Object(m))
}

/// Does `path` still have fingerprint `fp`? (re-hashed only when the mtime moved)
pub fn same_file(path: &Path, fp: &Value) -> bool {
    let Ok(md) = std::fs::metadata(path) else { return false };
    if fp.get("size").and_then(Value::as_u64) != Some(md.len()) {
        return false;
    }
    let rec_mtime = fp.get("mtime_ns").and_then(Value::as_i64);
    let Some(sha) = fp.get("sha256").and_then(Value::as_str) else { return true };
    if rec_mtime.map(|t| t as i128) == Some(mtime_ns(&md)) {
        return true;
    }
    sha256(path).map(|s| s == sha).unwrap_or(false)
}

/// JSON values compared as Python compares the loaded objects (1 == 1.0).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        (Value::Bool(x), Value::Number(y)) | (Value::Number(y), Value::Bool(x)) => y.as_f64() == Some(*x as u8 as f64),
        _ => a == b,
    }
}

fn sort_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sort_keys(&m[k]))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

/// Python's `json.dump(data, fh, indent=1, sort_keys=True)` text.
pub fn to_json_text(v: &Value) -> String {
    let sorted = sort_keys(v);
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(&sorted, &mut ser).expect("JSON of a Value");
    String::from_utf8(buf).expect("JSON is UTF-8")
}

fn atomic_json(path: &Path, data: &Value) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let res = (|| {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(to_json_text(data).as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Write the running marker of a unit.
pub fn mark_running(folder: &Path, label: &str) -> std::io::Result<()> {
    let v = serde_json::json!({"pid": std::process::id(), "host": hostname(), "started": now()});
    atomic_json(&running_path(folder, label), &v)
}

/// Remove both markers of a unit.
pub fn clear(folder: &Path, label: &str) {
    let _ = std::fs::remove_file(done_path(folder, label));
    let _ = std::fs::remove_file(running_path(folder, label));
}

/// Write the completion marker (atomically, after every output), then drop the running marker.
pub fn write_done(
    folder: &Path,
    label: &str,
    function: &str,
    outputs: &[PathBuf],
    inputs: Map<String, Value>,
    params: Map<String, Value>,
    kernels: Map<String, Value>,
) -> std::io::Result<()> {
    let mut outs = Map::new();
    for p in outputs {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        outs.insert(name, file_fp(p, true)?);
    }
    let data = serde_json::json!({
        "label": label, "function": function, "version": VERSION, "completed": now(),
        "host": hostname(), "outputs": outs, "inputs": inputs, "params": params, "kernels": kernels,
    });
    atomic_json(&done_path(folder, label), &data)?;
    let _ = std::fs::remove_file(running_path(folder, label));
    Ok(())
}

/// The completion marker, or None (absent or damaged: counts as absent).
pub fn read_done(folder: &Path, label: &str) -> Option<Value> {
    let text = std::fs::read_to_string(done_path(folder, label)).ok()?;
    serde_json::from_str::<Value>(&text).ok().filter(Value::is_object)
}

/// A unit's state: complete | missing | interrupted | stale.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub status: String,
    pub reason: String,
    pub foreign: bool,
}

impl State {
    pub fn new(status: &str, reason: impl Into<String>) -> Self {
        State { status: status.into(), reason: reason.into(), foreign: false }
    }
    pub fn complete(&self) -> bool {
        self.status == "complete"
    }
}

/// Python `repr` of a loaded JSON value (for the "parameter ... changed" reason).
pub fn py_repr(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "None".into(),
        Some(Value::Bool(b)) => if *b { "True".into() } else { "False".into() },
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else {
                let x = n.as_f64().unwrap_or(f64::NAN);
                if x.fract() == 0.0 && x.abs() < 1e16 { format!("{x:.1}") } else { format!("{x}") }
            }
        }
        Some(Value::String(s)) => format!("'{s}'"),
        Some(Value::Array(a)) => {
            format!("[{}]", a.iter().map(|x| py_repr(Some(x))).collect::<Vec<_>>().join(", "))
        }
        Some(Value::Object(_)) => "{...}".into(),
    }
}

/// Why recorded input fingerprints differ from the current ones (None if equal).
pub fn inputs_changed(recorded: &Map<String, Value>, current: &Map<String, Value>, root: &Path) -> Option<String> {
    let mut keys: Vec<&String> = recorded.keys().chain(current.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let Some(c) = current.get(key) else { return Some(format!("input {key} no longer exists")) };
        let Some(r) = recorded.get(key) else { return Some(format!("new input {key}")) };
        if r.is_object() && r.get("size").is_some() {
            let p = if Path::new(key).is_absolute() { PathBuf::from(key) } else { root.join(key) };
            if !same_file(&p, r) {
                return Some(format!("input {key} changed"));
            }
        } else if !json_eq(r, c) {
            return Some(format!("input {key} changed"));
        }
    }
    None
}

/// Why the recorded parameters differ from the current ones (None if equal).
pub fn params_changed(recorded: &Map<String, Value>, current: &Map<String, Value>) -> Option<String> {
    let mut keys: Vec<&String> = recorded.keys().chain(current.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let (r, c) = (recorded.get(k), current.get(k));
        let same = match (r, c) {
            (Some(a), Some(b)) => json_eq(a, b),
            (None, None) => true,
            (Some(Value::Null), None) | (None, Some(Value::Null)) => true,
            _ => false,
        };
        if !same {
            return Some(format!("parameter {k} changed ({} -> {})", py_repr(r), py_repr(c)));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_text_like_python() {
        let v = serde_json::json!({"b": 1, "a": {"y": [1.5, "inf"], "x": {}}});
        assert_eq!(
            to_json_text(&v),
            "{\n \"a\": {\n  \"x\": {},\n  \"y\": [\n   1.5,\n   \"inf\"\n  ]\n },\n \"b\": 1\n}"
        );
    }

    #[test]
    fn numeric_equality() {
        assert!(json_eq(&serde_json::json!(32), &serde_json::json!(32.0)));
        assert!(!json_eq(&serde_json::json!("inf"), &serde_json::json!(1.0)));
    }
}
