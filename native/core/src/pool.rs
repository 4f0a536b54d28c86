//! Thread pools sized by the caller (0 = the CPU budget of the process, [`cpu_budget`]).

use rayon::{ThreadPool, ThreadPoolBuilder};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

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

thread_local! {
    /// A pool private to this thread's work (a patch worker of the native runner), used by
    /// [`install`] instead of the shared cached pool of the same size.
    static LOCAL: RefCell<Option<Arc<ThreadPool>>> = const { RefCell::new(None) };
}

/// Route this thread's [`install`] calls of a matching size to `p` (None: back to the shared
/// pools). Patch workers running side by side each get their own pool this way; with one
/// shared pool per size, two workers of one thread each would take turns on one thread.
pub fn set_local_pool(p: Option<Arc<ThreadPool>>) {
    LOCAL.with(|l| *l.borrow_mut() = p);
}

/// This thread's private pool, if any (to hand on to a helper thread doing its work).
pub fn local_pool() -> Option<Arc<ThreadPool>> {
    LOCAL.with(|l| l.borrow().clone())
}

/// Run `f` inside a pool of `threads` workers: this thread's private pool when it has that
/// size, the pool this code already runs in when that has it, else a shared cached pool.
pub fn install<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    let want = if threads > 0 { threads } else { cpu_budget() };
    if let Some(p) = local_pool() {
        if p.current_num_threads() == want {
            return p.install(f);
        }
    }
    if rayon::current_thread_index().is_some() && rayon::current_num_threads() == want {
        return f();
    }
    pool(threads).install(f)
}

/// Cores this process may use: `std::thread::available_parallelism`, which honours the
/// CPU affinity mask and cgroup quotas (Slurm, containers); at least 1.
pub fn cpu_budget() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> String {
        std::thread::current().name().unwrap_or("").to_string()
    }

    #[test]
    fn local_pool_takes_install_calls_of_its_size() {
        let p = ThreadPoolBuilder::new().num_threads(1).thread_name(|_| "private-1".into()).build().unwrap();
        std::thread::spawn(move || {
            set_local_pool(Some(Arc::new(p)));
            assert_eq!(install(1, name), "private-1");
            // nested calls stay in the pool they run in
            assert_eq!(install(1, || install(1, name)), "private-1");
            // another size goes to a shared pool
            assert_ne!(install(2, name), "private-1");
            set_local_pool(None);
            assert_ne!(install(1, name), "private-1");
        })
        .join()
        .unwrap();
    }
}
