//! Thread pools sized by the caller (0 = the CPU budget of the process, [`cpu_budget`]).

use rayon::{ThreadPool, ThreadPoolBuilder};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

static POOLS: OnceLock<Mutex<HashMap<usize, &'static ThreadPool>>> = OnceLock::new();

/// A cached pool with `threads` workers (`threads == 0` means the default pool size).
pub fn pool(threads: usize) -> &'static ThreadPool {
    let map = POOLS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut guard = map.lock().expect("pool registry poisoned");
    guard.entry(threads).or_insert_with(|| {
        let mut b = ThreadPoolBuilder::new();
        b = b.num_threads(if threads > 0 { threads } else { cpu_budget() });
        Box::leak(Box::new(b.build().expect("cannot build rayon pool")))
    })
}

/// Run `f` inside a pool of `threads` workers.
pub fn install<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    pool(threads).install(f)
}

/// Cores this process may use: `std::thread::available_parallelism`, which honours the
/// CPU affinity mask and cgroup quotas (Slurm, containers); at least 1.
pub fn cpu_budget() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
