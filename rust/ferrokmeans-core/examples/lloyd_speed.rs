//! Times Lloyd iterations on synthetic data: `cargo run --release --example
//! lloyd_speed -- N D K THREADS [f32|f64] [lloyd|hamerly|yinyang|auto]` (`REPEATS=n` in the
//! environment: repeats, 7 by default). For profiling the kernels; the
//! comparisons against other libraries live in `benchmarks/`.

use std::time::Instant;

use ferrokmeans_core::{fit, Algorithm, Data, Init, KMeansParams};
use ndarray::Array2;

fn run<F: ferrokmeans_core::Float>(
    n: usize,
    d: usize,
    k: usize,
    threads: usize,
    algorithm: Algorithm,
) {
    let mut state = 12345u64;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    // BLOBS="count,spread": rows around `count` centres uniform in
    // [-10, 10]^d, each feature off by a uniform in ±spread·√3 (the
    // spread of a Gaussian of that standard deviation); else uniform rows.
    let blobs: Option<(usize, f64)> = std::env::var("BLOBS").ok().and_then(|s| {
        let (a, b) = s.split_once(',')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    });
    let x = match blobs {
        Some((count, spread)) => {
            let centres: Vec<f64> = (0..count * d).map(|_| 20.0 * uniform() - 10.0).collect();
            let mut x = Array2::zeros((n, d));
            for mut row in x.rows_mut() {
                let b = (uniform() * count as f64) as usize;
                for (f, v) in row.iter_mut().enumerate() {
                    *v = F::from_f64(
                        centres[b * d + f] + spread * 3f64.sqrt() * (2.0 * uniform() - 1.0),
                    );
                }
            }
            x
        }
        None => Array2::from_shape_fn((n, d), |_| F::from_f64(uniform())),
    };
    let init = x.slice(ndarray::s![..k, ..]).to_owned();
    let params = KMeansParams::new(k)
        .init(Init::Centers(init))
        .max_iter(10)
        .tol(0.0)
        .n_threads(threads)
        .algorithm(algorithm);
    // The machine is shared: report the fastest of several repeats, in
    // wall time and in CPU time of this thread (which other processes
    // barely disturb; it is the whole work when threads = 1, since a
    // one-thread fit runs on the caller's thread).
    let (mut best, mut best_cpu) = (f64::INFINITY, f64::INFINITY);
    let repeats: usize = std::env::var("REPEATS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    for _ in 0..repeats {
        let (t, c) = (Instant::now(), thread_cpu_seconds());
        let r = fit(Data::Dense(x.view()), None, &params, &mut ()).unwrap();
        let per = (r.n_iter + 1) as f64;
        best = best.min(t.elapsed().as_secs_f64() / per);
        best_cpu = best_cpu.min((thread_cpu_seconds() - c) / per);
    }
    println!(
        "n={n} d={d} k={k} threads={threads} {} {algorithm:?}: {:.3} ms/iteration wall, {:.3} ms CPU of the calling thread (best of {repeats})",
        std::any::type_name::<F>(),
        best * 1e3,
        best_cpu * 1e3
    );
}

/// CPU time of the calling thread from `/proc/thread-self/schedstat`
/// (Linux; 0 elsewhere).
fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns * 1e-9)
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let get = |i: usize, def: usize| a.get(i).and_then(|s| s.parse().ok()).unwrap_or(def);
    let (n, d, k, t) = (get(1, 1_000_000), get(2, 2), get(3, 16), get(4, 1));
    let algorithm = match a.get(6).map(|s| s.as_str()) {
        Some("hamerly") => Algorithm::Hamerly,
        Some("yinyang") => Algorithm::Yinyang,
        Some("auto") => Algorithm::Auto,
        _ => Algorithm::Lloyd,
    };
    if a.get(5).map(|s| s.as_str()) == Some("f64") {
        run::<f64>(n, d, k, t, algorithm)
    } else {
        run::<f32>(n, d, k, t, algorithm)
    }
}
