//! One run at a time per folder: `<folder>/.pystamps/lock` with pid, host, start time and
//! command, the same file and protocol as `pystamps_batch.lock`, so the Python runner and
//! the native runner exclude each other. A lock of a dead pid on this host is taken over
//! with a warning; a lock from another host is never broken.

use std::io::Write;
use std::path::{Path, PathBuf};

use pystamps_io::markers;
use serde_json::Value;

/// A held lock; removed on drop if it is still ours.
pub struct Guard {
    path: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if read(&self.path).get("pid").and_then(Value::as_u64) == Some(std::process::id() as u64) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn read(path: &Path) -> Value {
    std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null)
}

fn alive(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Environment variable by which a run that holds the dataset locks (the Python MPI
/// driver, `runtime.patch_engine: native`) lets the `pystamps-native` it starts work inside
/// them: `<host>:<pid>` of the holder, as written in the lock file.
pub const HELD_BY_ENV: &str = "PYSTAMPS_LOCK_HELD_BY";

/// True when `$PYSTAMPS_LOCK_HELD_BY` names exactly this lock's holder (host and pid).
fn held_by_parent(host: &str, pid: u64) -> bool {
    std::env::var(HELD_BY_ENV).is_ok_and(|v| v == format!("{host}:{pid}"))
}

/// Take the lock of one folder.
pub fn lock(folder: &Path, warn: &dyn Fn(&str)) -> Result<Guard, String> {
    let d = markers::marker_dir(folder);
    std::fs::create_dir_all(&d)
        .map_err(|e| format!("{}: cannot create the run folder ({e}); is the dataset writable?", d.display()))?;
    let path = d.join("lock");
    let host = markers::hostname();
    for _ in 0..3 {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                let started = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0);
                let me = serde_json::json!({"pid": std::process::id(), "host": host, "started": started, "command": "run"});
                f.write_all(me.to_string().as_bytes())
                    .and_then(|_| f.sync_all())
                    .map_err(|e| format!("{}: cannot create the lock ({e})", path.display()))?;
                return Ok(Guard { path });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let mut held = read(&path);
                let pid = held.get("pid").and_then(Value::as_u64);
                let h = held.get("host").and_then(Value::as_str).unwrap_or("").to_string();
                if pid.is_some_and(|p| held_by_parent(&h, p)) {
                    // the MPI driver holding this lock runs us as its per-patch engine
                    // (the guard removes the file only if it holds our own pid: it does not)
                    return Ok(Guard { path });
                }
                if h == host && pid.is_some_and(|p| !alive(p)) {
                    warn(&format!("warning: taking over a stale lock of pid {} on {h} ({})", pid.unwrap_or(0), path.display()));
                    let _ = std::fs::remove_file(&path);
                    continue;
                }
                if held.is_null() {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    held = read(&path);
                    if held.is_null() {
                        return Err(format!("{}: unreadable lock file; remove it if no run is active", path.display()));
                    }
                }
                return Err(format!(
                    "{}: another pystamps {} holds the lock (pid {} on {}; lock file {})",
                    folder.display(),
                    held.get("command").and_then(Value::as_str).unwrap_or("run"),
                    held.get("pid").map(|v| v.to_string()).unwrap_or_default(),
                    held.get("host").and_then(Value::as_str).unwrap_or("?"),
                    path.display()
                ));
            }
            Err(e) => {
                return Err(format!("{}: cannot create the lock ({e}); is the dataset writable?", path.display()))
            }
        }
    }
    Err(format!("{}: could not take the dataset lock", path.display()))
}

/// Lock every folder in order (released in reverse when the guards drop).
pub fn lock_all(folders: &[PathBuf], warn: &dyn Fn(&str)) -> Result<Vec<Guard>, String> {
    folders.iter().map(|f| lock(f, warn)).collect()
}
