//! Thread pools sized by the caller (0 = rayon's default, i.e. all cores).

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
        if threads > 0 {
            b = b.num_threads(threads);
        }
        Box::leak(Box::new(b.build().expect("cannot build rayon pool")))
    })
}

/// Run `f` inside a pool of `threads` workers.
pub fn install<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    pool(threads).install(f)
}
