//! A memory bound for `--patch-workers`: patches run side by side only while their
//! estimated peak memory fits in what the machine (or the job's cgroup) has available.
//!
//! Estimate of one patch's peak resident memory through stages 1-5a: 96 bytes per
//! candidate x image plus 64 MiB. Measured: PATCH_15 of the generated 1,000,000 x 60 x 16
//! dataset (152 346 candidates x 61 images) peaks at 767 MB in stages 1-4, 82 B per cell.
//! The budget is 80 % of `MemAvailable` (`/proc/meminfo`), or of the cgroup's headroom
//! (`memory.max - memory.current`, v2; `memory.limit_in_bytes - memory.usage_in_bytes`, v1)
//! when that is lower, as under Slurm or in a container; `$PYSTAMPS_MEMORY_BUDGET_MB`
//! sets it directly. A patch that alone exceeds the budget still runs, on its own.

use std::sync::{Condvar, Mutex};

/// Bytes per candidate x image of a patch's peak (see the module docs).
pub const BYTES_PER_CELL: u64 = 96;
/// Fixed part of a patch's peak.
pub const BASE_BYTES: u64 = 64 << 20;
/// Environment override of the budget, in MiB.
pub const BUDGET_ENV: &str = "PYSTAMPS_MEMORY_BUDGET_MB";

/// Estimated peak bytes of one patch's stages.
pub fn patch_estimate(n_cand: usize, n_images: usize) -> u64 {
    BYTES_PER_CELL * n_cand as u64 * n_images.max(1) as u64 + BASE_BYTES
}

fn meminfo_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn read_u64(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn cgroup_headroom() -> Option<u64> {
    // v2: the process's own cgroup from /proc/self/cgroup ("0::/path")
    if let Ok(cg) = std::fs::read_to_string("/proc/self/cgroup") {
        if let Some(rel) = cg.lines().find_map(|l| l.strip_prefix("0::")) {
            let base = format!("/sys/fs/cgroup{}", rel.trim_end_matches('/'));
            if let (Some(max), Some(cur)) = (read_u64(&format!("{base}/memory.max")), read_u64(&format!("{base}/memory.current"))) {
                return Some(max.saturating_sub(cur));
            }
        }
    }
    let (lim, use_) =
        (read_u64("/sys/fs/cgroup/memory/memory.limit_in_bytes")?, read_u64("/sys/fs/cgroup/memory/memory.usage_in_bytes")?);
    (lim < 1 << 60).then(|| lim.saturating_sub(use_))
}

/// The memory budget for concurrent patches, in bytes (None: unknown, no bound).
pub fn budget() -> Option<u64> {
    if let Some(mb) = std::env::var(BUDGET_ENV).ok().and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(mb << 20);
    }
    let avail = match (meminfo_available(), cgroup_headroom()) {
        (Some(a), Some(c)) => a.min(c),
        (a, c) => a.or(c)?,
    };
    Some(avail / 10 * 8)
}

/// Weighted admission: `acquire(bytes)` waits while other patches are in flight and the
/// bytes do not fit; a lone patch is always admitted.
pub struct MemoryPool {
    state: Mutex<(u64, usize)>, // (bytes free, patches in flight)
    cv: Condvar,
}

/// Memory held by one running patch; given back on drop.
pub struct Ticket<'a> {
    pool: &'a MemoryPool,
    bytes: u64,
}

impl MemoryPool {
    pub fn new(budget: u64) -> Self {
        MemoryPool { state: Mutex::new((budget, 0)), cv: Condvar::new() }
    }

    pub fn acquire(&self, bytes: u64) -> Ticket<'_> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while st.1 > 0 && st.0 < bytes {
            st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        let take = bytes.min(st.0);
        st.0 -= take;
        st.1 += 1;
        Ticket { pool: self, bytes: take }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut st = self.pool.state.lock().unwrap_or_else(|e| e.into_inner());
        st.0 += self.bytes;
        st.1 -= 1;
        self.pool.cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn concurrency_is_bounded_by_the_budget() {
        let pool = MemoryPool::new(250);
        let now = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..6 {
                s.spawn(|| {
                    let _t = pool.acquire(100);
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    now.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_lone_oversized_patch_still_runs() {
        let pool = MemoryPool::new(10);
        let t = pool.acquire(1000);
        drop(t);
        let _again = pool.acquire(1000);
    }

    #[test]
    fn estimate_grows_with_cells() {
        assert!(patch_estimate(152_346, 61) > 700_000_000);
        assert_eq!(patch_estimate(0, 10), BASE_BYTES);
    }
}
