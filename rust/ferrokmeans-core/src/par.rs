//! Parallel execution with results that do not depend on the thread count.
//!
//! Rows are cut into a fixed grid of blocks whose size depends on the number
//! of rows only. Blocks run in parallel; each produces a partial result, and
//! partials are combined strictly in block order. Same input, same bits,
//! whatever the number of threads. The same shape — a partial per chunk, then
//! an ordered combine — is what a distributed (Dask) fit uses per chunk.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{KMeansError, Result};

/// Rows per block for `n` rows: about 64 blocks, each of 256 to 8,192 rows,
/// rounded to a multiple of 64.
pub fn block_rows(n: usize) -> usize {
    let target = n.div_ceil(64);
    target
        .div_ceil(64)
        .max(1)
        .saturating_mul(64)
        .clamp(256, 8192)
}

/// Number of threads to use when the caller asks for `requested` (0: all
/// cores). Capped at 4 threads per core (at least 8): more only adds
/// switching, and the results do not depend on the count anyway.
pub fn resolve_threads(requested: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if requested == 0 {
        cores
    } else {
        requested.min((4 * cores).max(8))
    }
}

/// The threads of a pass: the calling thread itself and `threads - 1`
/// pool workers, which share the pass's blocks with it. The caller starts
/// at once, so while a worker is slow to wake (an idle virtual CPU can take
/// a fraction of a millisecond) the caller takes its blocks; the pass (each
/// wave of it) still ends only once every worker has run, if only to find
/// no block left.
#[derive(Debug)]
pub struct Pool {
    /// The helpers (`None` for one thread).
    workers: Option<ThreadPool>,
    /// Number of threads, the caller's included.
    threads: usize,
}

/// A [`Pool`] of `threads` threads (0: all cores). The last few pools are
/// cached, keyed by thread count and process: a child created by `fork`
/// has none of its parent's worker threads, so a pool inherited through a
/// fork is never used (the key includes the pid). At most [`MAX_POOLS`]
/// stay alive, so a program that tries many thread counts does not
/// accumulate threads.
pub fn pool(threads: usize) -> Result<Arc<Pool>> {
    type Pools = Vec<((u32, usize), Arc<Pool>)>;
    static POOLS: OnceLock<Mutex<Pools>> = OnceLock::new();
    let threads = resolve_threads(threads);
    let key = (std::process::id(), threads);
    let mut pools = POOLS
        .get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    pools.retain(|((pid, _), _)| *pid == key.0);
    if let Some(pos) = pools.iter().position(|(k, _)| *k == key) {
        // Most recently used last.
        let entry = pools.remove(pos);
        let p = entry.1.clone();
        pools.push(entry);
        return Ok(p);
    }
    let workers = if threads > 1 {
        let p = ThreadPoolBuilder::new()
            .num_threads(threads - 1)
            .thread_name(|i| format!("ferrokmeans-{i}"))
            .build()
            .map_err(|e| KMeansError::ThreadPool {
                threads,
                reason: e.to_string(),
            })?;
        Some(p)
    } else {
        None
    };
    let p = Arc::new(Pool { workers, threads });
    if pools.len() >= MAX_POOLS {
        pools.remove(0);
    }
    pools.push((key, p.clone()));
    Ok(p)
}

/// How many thread pools stay cached.
const MAX_POOLS: usize = 4;

/// Runs `f(block_index, row_range, a_chunk, b_chunk)` over the block grid of
/// `n` rows in parallel, where `a_chunk`/`b_chunk` are the block's parts of
/// `out_a`/`out_b` (`per_row_a`/`per_row_b` entries per row; 0 for an unused
/// output), and feeds each partial result to `combine` in block order.
/// Blocks run in waves so that at most a few partials per thread are alive at
/// once; the waves do not change the combine order.
pub fn map_blocks<A, B, P, F, C>(
    pool: &Pool,
    n: usize,
    out_a: (&mut [A], usize),
    out_b: (&mut [B], usize),
    f: F,
    combine: C,
) where
    A: Send,
    B: Send,
    P: Send,
    F: Fn(usize, std::ops::Range<usize>, &mut [A], &mut [B]) -> P + Sync,
    C: FnMut(P) + Send,
{
    map_blocks_of(pool, n, block_rows(n), out_a, out_b, f, combine)
}

/// Rows per block for a pass whose partial result holds `k × d` sums: at
/// least `4k` rows, so that zeroing and adding the partials stays small
/// next to the pass itself. Depends on the shape only, never on threads.
pub fn block_rows_for_sums(n: usize, k: usize) -> usize {
    block_rows(n).max((4 * k).div_ceil(64) * 64).min(65_536)
}

/// [`map_blocks`] over blocks of `br` rows.
pub fn map_blocks_of<A, B, P, F, C>(
    pool: &Pool,
    n: usize,
    br: usize,
    (out_a, per_row_a): (&mut [A], usize),
    (out_b, per_row_b): (&mut [B], usize),
    f: F,
    mut combine: C,
) where
    A: Send,
    B: Send,
    P: Send,
    F: Fn(usize, std::ops::Range<usize>, &mut [A], &mut [B]) -> P + Sync,
    C: FnMut(P) + Send,
{
    debug_assert_eq!(out_a.len(), n * per_row_a);
    debug_assert_eq!(out_b.len(), n * per_row_b);
    let n_blocks = n.div_ceil(br);
    let wave = (pool.threads * 4).max(1);
    let (mut rest_a, mut rest_b) = (out_a, out_b);
    let mut first = 0;
    // With helpers, the caller first runs block 0 alone and times it: when
    // the rest of the pass would take it less than `INLINE_BELOW`, it does
    // the rest too, since waking a helper can cost as much (a scheduling
    // choice only: blocks and their combine order do not change).
    let mut helpers = pool.workers.as_ref();
    while first < n_blocks {
        let last = (first + wave).min(n_blocks);
        let mut jobs = Vec::with_capacity(last - first);
        for b in first..last {
            let rows = b * br..((b + 1) * br).min(n);
            let (a, ra) = std::mem::take(&mut rest_a).split_at_mut(rows.len() * per_row_a);
            let (bb, rb) = std::mem::take(&mut rest_b).split_at_mut(rows.len() * per_row_b);
            rest_a = ra;
            rest_b = rb;
            jobs.push((b, rows, a, bb));
        }
        let run = |(b, rows, a, bb): (usize, _, &mut [A], &mut [B])| f(b, rows, a, bb);
        if first == 0 && helpers.is_some() && n_blocks > 1 {
            let started = std::time::Instant::now();
            let job = jobs.remove(0);
            combine(run(job));
            let rest = u32::try_from(n_blocks - 1).ok();
            let left = rest.and_then(|r| started.elapsed().checked_mul(r));
            if left.is_some_and(|t| t < INLINE_BELOW) {
                helpers = None;
            }
        }
        let partials: Vec<P> = match helpers {
            Some(workers) => shared(workers, pool.threads - 1, jobs, &run),
            // One thread: on the caller's own thread. Concurrent fits
            // with n_threads=1 from several Python threads then really
            // run in parallel instead of queueing on a shared worker.
            None => jobs.into_iter().map(run).collect(),
        };
        partials.into_iter().for_each(&mut combine);
        first = last;
    }
}

/// Below this much work left in a pass (estimated from its first block),
/// the calling thread does it alone rather than wake the pool: an idle
/// virtual CPU can take 0.1 ms or more to wake, and the caller then waits
/// for it at the end of the pass (digits, 1,797 rows, 2 threads: a default
/// fit took 4.3–5.9 ms that way, 2.9 ms now, the same as 1 thread).
const INLINE_BELOW: std::time::Duration = std::time::Duration::from_micros(200);

/// Runs `f` on every job, shared between the calling thread and `helpers`
/// tasks spawned on `workers`: each takes the next job not yet taken, so
/// whoever is running does the work. Results in the jobs' order.
fn shared<J, P, F>(workers: &ThreadPool, helpers: usize, jobs: Vec<J>, f: &F) -> Vec<P>
where
    J: Send,
    P: Send,
    F: Fn(J) -> P + Sync,
{
    let n = jobs.len();
    let jobs: Vec<Mutex<Option<J>>> = jobs.into_iter().map(|j| Mutex::new(Some(j))).collect();
    let results: Vec<Mutex<Option<P>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    // A panic in `f` happens outside the locks: never poisoned, but nothing
    // to lose by taking the value anyway.
    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= n {
            break;
        }
        let job = lock(&jobs[i]).take().expect("each job is taken once");
        let p = f(job);
        *lock(&results[i]) = Some(p);
    };
    workers.in_place_scope(|s| {
        for _ in 0..helpers.min(n.saturating_sub(1)) {
            s.spawn(|_| work());
        }
        work();
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every job ran")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_depends_on_rows_only_and_covers_everything() {
        for n in [1usize, 255, 256, 1000, 100_000, 3_000_001] {
            let br = block_rows(n);
            assert!(br.is_multiple_of(64) && (256..=8192).contains(&br));
            for threads in [1, 2, 3] {
                let p = pool(threads).unwrap();
                let mut out = vec![0u8; n];
                let mut out2 = vec![0u16; 2 * n];
                let mut seen = Vec::new();
                map_blocks(
                    &p,
                    n,
                    (&mut out, 1),
                    (&mut out2, 2),
                    |b, r, o, o2| {
                        assert_eq!(o.len(), r.len());
                        assert_eq!(o2.len(), 2 * r.len());
                        o.fill(1);
                        o2.fill(2);
                        (b, r)
                    },
                    |(b, r)| seen.push((b, r)),
                );
                assert!(out2.iter().all(|&v| v == 2));
                assert!(out.iter().all(|&v| v == 1));
                assert_eq!(seen.len(), n.div_ceil(br));
                for (i, (b, r)) in seen.iter().enumerate() {
                    assert_eq!(*b, i);
                    assert_eq!(r.start, i * br);
                }
            }
        }
    }

    /// The threads that ran the blocks of one pass over `n` rows, each
    /// block taking `work`; and the blocks in the order combined.
    fn who_ran(threads: usize, n: usize, work: std::time::Duration) -> (usize, Vec<usize>) {
        let p = pool(threads).unwrap();
        let ids = Mutex::new(std::collections::HashSet::new());
        let mut order = Vec::new();
        map_blocks(
            &p,
            n,
            (&mut [] as &mut [u8], 0),
            (&mut [] as &mut [u8], 0),
            |b, _, _, _| {
                let t = std::time::Instant::now();
                while t.elapsed() < work {
                    std::hint::spin_loop();
                }
                ids.lock().unwrap().insert(std::thread::current().id());
                b
            },
            |b| order.push(b),
        );
        (ids.into_inner().unwrap().len(), order)
    }

    #[test]
    fn small_passes_stay_on_the_caller_and_large_ones_are_shared() {
        let n = 4096; // 16 blocks of 256 rows
        let blocks: Vec<usize> = (0..16).collect();
        // 16 blocks of ~0 µs: far below INLINE_BELOW, the caller alone.
        let (threads, order) = who_ran(2, n, std::time::Duration::ZERO);
        assert_eq!((threads, &order), (1, &blocks));
        // 16 blocks of 5 ms: the helper wakes long before the caller is
        // done, and takes some.
        let (threads, order) = who_ran(2, n, std::time::Duration::from_millis(5));
        assert_eq!((threads, &order), (2, &blocks));
    }
}
