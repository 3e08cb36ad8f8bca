//! k-means++ clustering of respondents' ten value scores (linfa), seeded so that the same data
//! and seed always give the same groups.

use crate::{Error, Field, Result};
use linfa::traits::{Fit, Predict};
use linfa::DatasetBase;
use linfa_clustering::KMeans;
use ndarray::Array2;
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use valuelab_common::VALUE_COUNT;

/// One respondent's scores in the order of `ALL_VALUES`.
pub type Point = [f64; VALUE_COUNT];

/// How hard k-means tries: restarts from fresh k-means++ seedings (the run with the lowest SSE
/// is kept) and the Lloyd iterations and tolerance of each run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KMeansSettings {
    pub runs: usize,
    pub max_iterations: u64,
    /// Stop a run when the centroids move less than this (Euclidean, over all centroids).
    pub tolerance: f64,
}

impl Default for KMeansSettings {
    /// linfa's and scikit-learn's classic defaults: 10 runs of at most 300 iterations.
    fn default() -> Self {
        KMeansSettings {
            runs: 10,
            max_iterations: 300,
            tolerance: 1e-4,
        }
    }
}

/// The result of [`cluster`]: `centroids[g]` is the mean of the points with `assignments[i] == g`.
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    pub centroids: Vec<Point>,
    pub assignments: Vec<usize>,
    pub sizes: Vec<usize>,
    /// Within-cluster sum of squared Euclidean distances to the centroids.
    pub sse: f64,
}

/// Clusters `points` into `k` groups with k-means++ seeded by `seed`, default settings.
pub fn cluster(points: &[Point], k: usize, seed: u64) -> Result<Clustering> {
    cluster_with(points, k, seed, &KMeansSettings::default())
}

pub fn cluster_with(
    points: &[Point],
    k: usize,
    seed: u64,
    settings: &KMeansSettings,
) -> Result<Clustering> {
    if k == 0 {
        return Err(Error::input(Field::K, "k must be at least 1"));
    }
    if points.len() < k {
        return Err(Error::invalid(format!(
            "cannot make {k} groups from {} scored respondents (use a smaller k)",
            points.len()
        )));
    }
    let records = to_array(points);
    let dataset = DatasetBase::from(records);
    let model = KMeans::params_with_rng(k, Xoshiro256Plus::seed_from_u64(seed))
        .n_runs(settings.runs)
        .max_n_iterations(settings.max_iterations)
        .tolerance(settings.tolerance)
        .fit(&dataset)
        .map_err(|e| Error::invalid(format!("k-means with k = {k} failed: {e}")))?;
    let assignments: Vec<usize> = model.predict(dataset.records()).to_vec();

    // linfa's update counts the previous centroid as one more member (m_k-means), so its
    // centroids sit a hair off the members' mean; a group's scores must be that exact mean.
    let mut centroids: Vec<Point> = model
        .centroids()
        .rows()
        .into_iter()
        .map(|row| std::array::from_fn(|j| row[j]))
        .collect();
    let sizes = exact_means(points, &assignments, &mut centroids);
    let sse = sse(points, &centroids, &assignments);
    Ok(Clustering {
        centroids,
        assignments,
        sizes,
        sse,
    })
}

/// Index of the centroid closest to `point` (Euclidean; the first on ties).
pub fn nearest(centroids: &[Point], point: &Point) -> Option<usize> {
    centroids
        .iter()
        .map(|c| squared_distance(c, point))
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// Sum of squared distances of each point to its assigned centroid.
pub fn sse(points: &[Point], centroids: &[Point], assignments: &[usize]) -> f64 {
    points
        .iter()
        .zip(assignments)
        .map(|(p, &g)| squared_distance(p, &centroids[g]))
        .sum()
}

pub fn squared_distance(a: &Point, b: &Point) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Replaces each non-empty cluster's centroid by its members' mean; returns the cluster sizes.
/// An empty cluster keeps linfa's centroid.
fn exact_means(points: &[Point], assignments: &[usize], centroids: &mut [Point]) -> Vec<usize> {
    let mut sums = vec![[0.0; VALUE_COUNT]; centroids.len()];
    let mut sizes = vec![0usize; centroids.len()];
    for (p, &g) in points.iter().zip(assignments) {
        sizes[g] += 1;
        for (s, x) in sums[g].iter_mut().zip(p) {
            *s += x;
        }
    }
    for ((c, sum), &n) in centroids.iter_mut().zip(&sums).zip(&sizes) {
        if n > 0 {
            *c = sum.map(|s| s / n as f64);
        }
    }
    sizes
}

fn to_array(points: &[Point]) -> Array2<f64> {
    Array2::from_shape_fn((points.len(), VALUE_COUNT), |(i, j)| points[i][j])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two tight blobs around known centres, 30 points each, interleaved.
    fn two_blobs() -> (Vec<Point>, Point, Point) {
        let low = [2.0; VALUE_COUNT];
        let mut high = [5.0; VALUE_COUNT];
        high[0] = 6.0;
        let mut points = Vec::new();
        for i in 0..30 {
            let jitter = (i % 5) as f64 * 0.02 - 0.04;
            points.push(low.map(|x| x + jitter));
            points.push(high.map(|x| x - jitter.abs()));
        }
        (points, low, high)
    }

    #[test]
    fn two_separated_blobs_are_recovered_with_their_means() {
        let (points, low, _) = two_blobs();
        let c = cluster(&points, 2, 7).unwrap();
        assert_eq!(c.sizes, vec![30, 30]);
        // Every point shares its cluster with the points of its own blob.
        for (i, &g) in c.assignments.iter().enumerate() {
            assert_eq!(g, c.assignments[i % 2]);
        }
        assert_ne!(c.assignments[0], c.assignments[1]);
        let g_low = c.assignments[0];
        // The jitter is symmetric around the centre (-0.04..0.04 in steps of 0.02), so the mean is the centre.
        for (centre, mean) in low.iter().zip(&c.centroids[g_low]) {
            assert!((centre - mean).abs() < 1e-12);
        }
        // By hand, per coordinate: the low blob's six jitters of each size give
        // 6 * (.04² + .02² + 0 + .02² + .04²) = .024; the high blob's offsets .04, .02, 0, .02, .04
        // around their mean .024 give 6 * (.016² + .004² + .024² + .004² + .016²) = .00672.
        assert!((c.sse - 10.0 * (0.024 + 0.00672)).abs() < 1e-9, "{}", c.sse);
    }

    #[test]
    fn the_same_seed_gives_the_same_clustering() {
        let points: Vec<Point> = (0..200)
            .map(|i| std::array::from_fn(|j| 1.0 + ((i * 7 + j * 13) % 50) as f64 / 10.0))
            .collect();
        let a = cluster(&points, 4, 11).unwrap();
        let b = cluster(&points, 4, 11).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.sizes.iter().sum::<usize>(), points.len());
    }

    #[test]
    fn nearest_picks_the_closest_centroid() {
        let a = [1.0; VALUE_COUNT];
        let b = [5.0; VALUE_COUNT];
        let mut p = [4.0; VALUE_COUNT];
        assert_eq!(nearest(&[a, b], &p), Some(1));
        p = [2.9; VALUE_COUNT];
        assert_eq!(nearest(&[a, b], &p), Some(0));
        assert_eq!(nearest(&[], &p), None);
    }

    #[test]
    fn impossible_k_is_refused_with_a_hint() {
        let (points, _, _) = two_blobs();
        assert!(cluster(&points, 0, 1)
            .unwrap_err()
            .to_string()
            .contains("at least 1"));
        let err = cluster(&points[..3], 4, 1).unwrap_err().to_string();
        assert!(err.contains("4 groups from 3"), "{err}");
    }
}
