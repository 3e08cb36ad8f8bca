//! Classical (Torgerson) multidimensional scaling of the values to a plane, and Procrustes
//! alignment of one configuration to another. Written here on nalgebra's symmetric eigen and SVD
//! decompositions: linfa has no MDS and no Procrustes, and each is a few lines of linear algebra.
//!
//! The values are placed from their correlations with the dissimilarity d²ᵢⱼ = 2(1 − rᵢⱼ) (the
//! distance between standardised score vectors), so the doubly centred matrix of classical MDS,
//! B = −½·J·D²·J, is the doubly centred correlation matrix J·R·J.

use crate::{Error, Result};
use nalgebra::{DMatrix, Matrix2, SymmetricEigen};
use serde::Serialize;

/// A point per object (value) in the plane.
pub type Configuration = Vec<[f64; 2]>;

/// A planar configuration and the share of the total (positive) spread its two axes carry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mds {
    pub points: Configuration,
    /// The two leading eigenvalues of B.
    pub eigenvalues: [f64; 2],
    /// (λ₁ + λ₂) / Σ positive λ: how much of the structure the plane shows.
    pub explained: f64,
}

/// Classical MDS of a symmetric matrix of squared dissimilarities to two dimensions. Each axis
/// is signed so that its largest coordinate is positive, so the same input always gives the
/// same picture.
pub fn classical_mds(squared_distances: &DMatrix<f64>) -> Result<Mds> {
    let n = squared_distances.nrows();
    if n < 3 || squared_distances.ncols() != n {
        return Err(Error::invalid(format!(
            "MDS needs a square matrix of at least 3 objects (got {n}×{})",
            squared_distances.ncols()
        )));
    }
    if squared_distances.iter().any(|d| !d.is_finite()) {
        return Err(Error::invalid("MDS needs finite dissimilarities"));
    }
    let centring = DMatrix::<f64>::identity(n, n) - DMatrix::from_element(n, n, 1.0 / n as f64);
    let b = -0.5 * &centring * squared_distances * &centring;
    let eigen = SymmetricEigen::new(b);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| eigen.eigenvalues[j].total_cmp(&eigen.eigenvalues[i]));
    let positive: f64 = eigen.eigenvalues.iter().filter(|&&l| l > 0.0).sum();
    let mut points = vec![[0.0; 2]; n];
    let mut eigenvalues = [0.0; 2];
    for (axis, &k) in order.iter().take(2).enumerate() {
        let lambda = eigen.eigenvalues[k].max(0.0);
        eigenvalues[axis] = lambda;
        let column = eigen.eigenvectors.column(k);
        let largest = column
            .iter()
            .copied()
            .max_by(|a, b| a.abs().total_cmp(&b.abs()))
            .unwrap_or(1.0);
        let sign = if largest < 0.0 { -1.0 } else { 1.0 };
        for (point, v) in points.iter_mut().zip(column.iter()) {
            point[axis] = sign * v * lambda.sqrt();
        }
    }
    let explained = if positive > 0.0 {
        (eigenvalues[0] + eigenvalues[1]) / positive
    } else {
        0.0
    };
    Ok(Mds {
        points,
        eigenvalues,
        explained,
    })
}

/// Squared dissimilarities 2(1 − r) of a correlation matrix given as rows.
pub fn correlation_distances(rows: &[[f64; 10]; 10]) -> DMatrix<f64> {
    DMatrix::from_fn(10, 10, |i, j| 2.0 * (1.0 - rows[i][j]))
}

/// How one configuration lines up with a reference after the best translation, rotation (or
/// reflection) and uniform scaling.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Procrustes {
    /// Congruence of the two configurations after alignment, 0..1 (1: same shape): the
    /// Procrustes correlation √(1 − m²).
    pub correlation: f64,
    /// Procrustes m²: the residual sum of squares with both configurations centred and scaled to
    /// unit size (0: same shape, 1: nothing in common).
    pub m2: f64,
    /// Rotation applied to the configuration, degrees anticlockwise.
    pub rotation_deg: f64,
    /// Whether the best fit mirrors the configuration.
    pub reflection: bool,
    pub scale: f64,
    /// The configuration moved onto the reference.
    pub aligned: Configuration,
}

/// Aligns `points` to `reference` (same objects in the same order).
pub fn procrustes(points: &[[f64; 2]], reference: &[[f64; 2]]) -> Result<Procrustes> {
    if points.len() != reference.len() || points.len() < 2 {
        return Err(Error::invalid(format!(
            "Procrustes needs two configurations of the same objects ({} and {} points)",
            points.len(),
            reference.len()
        )));
    }
    let (x, _) = centred(points);
    let (y, y_mean) = centred(reference);
    let (x_norm, y_norm) = (x.norm(), y.norm());
    if x_norm == 0.0 || y_norm == 0.0 {
        return Err(Error::invalid(
            "Procrustes needs configurations with some spread (all points coincide)",
        ));
    }
    let cross: Matrix2<f64> = (x.transpose() * &y).fixed_view::<2, 2>(0, 0).into_owned();
    let svd = cross.svd(true, true);
    let (u, v_t) = (svd.u.expect("asked for U"), svd.v_t.expect("asked for Vᵀ"));
    let rotation = u * v_t;
    let trace: f64 = svd.singular_values.sum();
    let congruence = (trace / (x_norm * y_norm)).clamp(0.0, 1.0);
    let scale = trace / (x_norm * x_norm);
    let aligned_matrix = (&x * rotation) * scale;
    let aligned = (0..aligned_matrix.nrows())
        .map(|i| {
            [
                aligned_matrix[(i, 0)] + y_mean[0],
                aligned_matrix[(i, 1)] + y_mean[1],
            ]
        })
        .collect();
    Ok(Procrustes {
        correlation: congruence,
        m2: 1.0 - congruence * congruence,
        // Row vectors are multiplied on the right: R = [[cos, sin], [−sin, cos]] turns them by
        // +angle, so the angle is atan2(R₀₁, R₀₀).
        rotation_deg: rotation[(0, 1)].atan2(rotation[(0, 0)]).to_degrees(),
        reflection: rotation.determinant() < 0.0,
        scale,
        aligned,
    })
}

fn centred(points: &[[f64; 2]]) -> (DMatrix<f64>, [f64; 2]) {
    let n = points.len() as f64;
    let mean = [
        points.iter().map(|p| p[0]).sum::<f64>() / n,
        points.iter().map(|p| p[1]).sum::<f64>() / n,
    ];
    let m = DMatrix::from_fn(points.len(), 2, |i, k| points[i][k] - mean[k]);
    (m, mean)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn squared_distances(points: &[[f64; 2]]) -> DMatrix<f64> {
        let n = points.len();
        DMatrix::from_fn(n, n, |i, j| {
            (points[i][0] - points[j][0]).powi(2) + (points[i][1] - points[j][1]).powi(2)
        })
    }

    #[test]
    fn mds_of_a_rectangle_gives_back_its_axes_and_eigenvalues() {
        // Corners (±2, ±1): centred, XᵀX = diag(4·4, 4·1), so B's eigenvalues are 16 and 4 and
        // the first axis carries the long side. Nothing else: explained = 1.
        let corners = [[2.0, 1.0], [2.0, -1.0], [-2.0, 1.0], [-2.0, -1.0]];
        let mds = classical_mds(&squared_distances(&corners)).unwrap();
        assert!((mds.eigenvalues[0] - 16.0).abs() < 1e-9);
        assert!((mds.eigenvalues[1] - 4.0).abs() < 1e-9);
        assert!((mds.explained - 1.0).abs() < 1e-9);
        for (p, c) in mds.points.iter().zip(&corners) {
            assert!((p[0].abs() - 2.0).abs() < 1e-9, "{p:?}");
            assert!((p[1].abs() - 1.0).abs() < 1e-9, "{p:?}");
            // Signs may flip per axis, consistently for all points.
            assert!((p[0] * c[0]).signum() == (mds.points[0][0] * corners[0][0]).signum());
        }
    }

    #[test]
    fn mds_of_correlations_on_a_circle_keeps_every_distance() {
        // Ten values at angles θₖ with r = cos(θᵢ − θⱼ): 2(1 − r) is the squared chord, so the
        // plane reproduces the unit circle exactly.
        let angles: Vec<f64> = (0..10).map(|k| k as f64 * 0.6).collect();
        let r: [[f64; 10]; 10] =
            std::array::from_fn(|i| std::array::from_fn(|j| (angles[i] - angles[j]).cos()));
        let mds = classical_mds(&correlation_distances(&r)).unwrap();
        for (p, row) in mds.points.iter().zip(&r) {
            for (q, rpq) in mds.points.iter().zip(row) {
                let d = ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt();
                let chord = (2.0 * (1.0 - rpq)).sqrt();
                assert!((d - chord).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn procrustes_recovers_a_rotation_a_scale_and_a_shift() {
        let x = [[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0], [3.0, 1.0]];
        // y = 2·(x turned 90° anticlockwise) + (5, −3): (a, b) → (−b, a).
        let y: Vec<[f64; 2]> = x
            .iter()
            .map(|p| [2.0 * -p[1] + 5.0, 2.0 * p[0] - 3.0])
            .collect();
        let fit = procrustes(&x, &y).unwrap();
        assert!(fit.m2.abs() < 1e-12);
        assert!((fit.correlation - 1.0).abs() < 1e-12);
        assert!(
            (fit.rotation_deg - 90.0).abs() < 1e-9,
            "{}",
            fit.rotation_deg
        );
        assert!((fit.scale - 2.0).abs() < 1e-12);
        assert!(!fit.reflection);
        for (a, b) in fit.aligned.iter().zip(&y) {
            assert!((a[0] - b[0]).abs() < 1e-9 && (a[1] - b[1]).abs() < 1e-9);
        }
    }

    #[test]
    fn procrustes_sees_a_mirror_image_and_scores_a_mismatch() {
        let x = [[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0], [3.0, 1.0]];
        let mirrored: Vec<[f64; 2]> = x.iter().map(|p| [p[0], -p[1]]).collect();
        let fit = procrustes(&x, &mirrored).unwrap();
        assert!(fit.reflection);
        assert!(fit.m2.abs() < 1e-12);
        // Centred x: (0.25,−0.5), (−0.75,1.5), (−1.75,−1.5), (2.25,0.5); against a square
        // that shares nothing with it the fit is partial: 0 < m² < 1.
        let square = [[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]];
        let fit = procrustes(&x, &square).unwrap();
        assert!(fit.m2 > 0.05 && fit.m2 < 1.0, "{}", fit.m2);
        assert!((fit.correlation.powi(2) + fit.m2 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn degenerate_inputs_are_errors_not_nan() {
        assert!(procrustes(&[[1.0, 1.0], [1.0, 1.0]], &[[0.0, 0.0], [1.0, 0.0]]).is_err());
        assert!(procrustes(&[[1.0, 1.0]], &[[0.0, 0.0], [1.0, 0.0]]).is_err());
        let mut d = DMatrix::from_element(3, 3, 1.0);
        d[(0, 1)] = f64::NAN;
        assert!(classical_mds(&d).is_err());
    }
}
