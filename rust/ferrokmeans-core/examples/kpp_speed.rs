//! Times greedy k-means++ seeding on float32 data: `cargo run --release
//! --example kpp_speed -- N D K THREADS [BLOBS] [STD] [FILE]`. The data are
//! `BLOBS` Gaussian blobs (default `max(K/4, 16)`) of standard deviation
//! `STD` (default 5) around centres uniform in [-10, 10]^D, like
//! scikit-learn's `make_blobs`; or, when `FILE` is given, N × D raw
//! little-endian float32 values read from it (so that other libraries can be
//! timed on the very same data). Prints the median of 5 runs in microseconds
//! (`REPEATS=n` in the environment: n runs; `F64=1`: the data converted to
//! float64).

use std::time::Instant;

use ferrokmeans_core::{kmeans_plusplus, Data};
use ndarray::{Array2, ArrayView2};

/// Uniform in [0, 1) from a 64-bit LCG: portable and seeded.
fn uniform(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

fn blobs(n: usize, d: usize, blobs: usize, std: f64) -> Array2<f32> {
    let mut s = 12345u64;
    let centres: Vec<f64> = (0..blobs * d)
        .map(|_| -10.0 + 20.0 * uniform(&mut s))
        .collect();
    let mut x = Array2::zeros((n, d));
    for mut row in x.rows_mut() {
        let b = (uniform(&mut s) * blobs as f64) as usize;
        for (f, v) in row.iter_mut().enumerate() {
            // Box–Muller, one normal per pair of uniforms.
            let (u1, u2) = (1.0 - uniform(&mut s), uniform(&mut s));
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            *v = (centres[b * d + f] + std * z) as f32;
        }
    }
    x
}

/// The rows k-means++ chooses on `x` (seed 0).
fn chosen_rows<F: ferrokmeans_core::Float>(
    x: ArrayView2<'_, F>,
    k: usize,
    threads: usize,
) -> Vec<i64> {
    let (_, idx) = kmeans_plusplus(Data::Dense(x), None, k, None, 0, threads, &mut ()).unwrap();
    idx.to_vec()
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let get = |i: usize, def: usize| a.get(i).and_then(|s| s.parse().ok()).unwrap_or(def);
    let (n, d, k, threads) = (get(1, 100_000), get(2, 64), get(3, 1024), get(4, 1));
    let n_blobs = get(5, (k / 4).max(16));
    let std: f64 = a.get(6).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let x = match a.get(7) {
        Some(path) => {
            let bytes = std::fs::read(path).expect("readable data file");
            assert_eq!(bytes.len(), n * d * 4, "the file must hold N × D float32");
            let v = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect();
            Array2::from_shape_vec((n, d), v).unwrap()
        }
        None => blobs(n, d, n_blobs, std),
    };
    let repeats: usize = std::env::var("REPEATS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1);
    let x64 = std::env::var_os("F64").map(|_| x.mapv(f64::from));
    let mut times = Vec::new();
    let mut idx = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        let i = match &x64 {
            Some(x) => chosen_rows(x.view(), k, threads),
            None => chosen_rows(x.view(), k, threads),
        };
        times.push(t.elapsed().as_secs_f64());
        idx = i;
    }
    times.sort_by(f64::total_cmp);
    // A checksum of the chosen rows, to compare implementations.
    let sum = idx.iter().fold(0u64, |h, &i| {
        h.wrapping_mul(1_000_003).wrapping_add(i as u64)
    });
    println!(
        "n={n} d={d} k={k} threads={threads}: median {:.1} us (min {:.1}, max {:.1}; {repeats} repeats); rows hash {sum:016x}",
        times[repeats / 2] * 1e6,
        times[0] * 1e6,
        times[repeats - 1] * 1e6
    );
}
