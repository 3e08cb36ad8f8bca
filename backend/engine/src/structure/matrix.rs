//! Correlations of the ten value scores across respondents, and how alike two such matrices
//! are: the Pearson r over their 45 distinct pairs, the measure the value-prompting paper
//! reports between a model population and people.

use serde::Serialize;
use valuelab_common::metrics::pearson;
use valuelab_common::{Value, ALL_VALUES, VALUE_COUNT};

/// Ten value scores of one respondent, in `ALL_VALUES` order.
pub type Scores = [f64; VALUE_COUNT];

/// The 10×10 Pearson correlation matrix, `ALL_VALUES` order. An entry is NaN where a value has
/// no variance across respondents (every persona gave it the same score), which JSON prints as
/// null rather than a made-up 0.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorrelationMatrix(pub [[f64; VALUE_COUNT]; VALUE_COUNT]);

impl CorrelationMatrix {
    /// Correlations across `rows` (at least two rows needed for any to be defined).
    pub fn of(rows: &[Scores]) -> Self {
        let columns: Vec<Vec<f64>> = (0..VALUE_COUNT)
            .map(|v| rows.iter().map(|r| r[v]).collect())
            .collect();
        let mut m = [[f64::NAN; VALUE_COUNT]; VALUE_COUNT];
        for i in 0..VALUE_COUNT {
            for j in i..VALUE_COUNT {
                let r = pearson(&columns[i], &columns[j]).unwrap_or(f64::NAN);
                m[i][j] = r;
                m[j][i] = r;
            }
        }
        Self(m)
    }

    pub fn get(&self, a: Value, b: Value) -> f64 {
        self.0[a.index()][b.index()]
    }

    /// The 45 entries above the diagonal, row by row.
    pub fn pairs(&self) -> Vec<f64> {
        (0..VALUE_COUNT)
            .flat_map(|i| (i + 1..VALUE_COUNT).map(move |j| (i, j)))
            .map(|(i, j)| self.0[i][j])
            .collect()
    }

    /// Values whose correlations are undefined (no variance across respondents).
    pub fn constant_values(&self) -> Vec<Value> {
        ALL_VALUES
            .iter()
            .copied()
            .filter(|v| self.0[v.index()][v.index()].is_nan())
            .collect()
    }
}

/// Pearson r between the 45 pairwise correlations of two matrices; `None` when either has an
/// undefined entry or no spread.
pub fn matrix_r(a: &CorrelationMatrix, b: &CorrelationMatrix) -> Option<f64> {
    let (x, y) = (a.pairs(), b.pairs());
    if x.iter().chain(&y).any(|r| r.is_nan()) {
        return None;
    }
    pearson(&x, &y)
}

/// Within-person centring: each respondent's mean over all items subtracted from every value
/// score, which removes the scale use (acquiescence) that makes raw value scores all correlate
/// positively.
pub fn centre(rows: &[Scores], item_means: &[f64]) -> Vec<Scores> {
    rows.iter()
        .zip(item_means)
        .map(|(row, mean)| row.map(|s| s - mean))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_from_two_columns(a: &[f64], b: &[f64]) -> Vec<Scores> {
        // Values 0 and 1 carry `a` and `b`; the other eight rise steadily, so all are defined.
        a.iter()
            .zip(b)
            .enumerate()
            .map(|(k, (&x, &y))| {
                let mut row = [k as f64; VALUE_COUNT];
                row[0] = x;
                row[1] = y;
                row[2] = (k * k) as f64;
                row
            })
            .collect()
    }

    #[test]
    fn the_matrix_is_pearson_per_pair_symmetric_with_a_unit_diagonal() {
        // x = 1,2,3,4 and y = 2,1,4,3: cov = 0.75 (sum of products of deviations 3 over n=4),
        // var = 1.25 each, so r = 0.6 by hand.
        let rows = rows_from_two_columns(&[1.0, 2.0, 3.0, 4.0], &[2.0, 1.0, 4.0, 3.0]);
        let m = CorrelationMatrix::of(&rows);
        assert!((m.0[0][1] - 0.6).abs() < 1e-12);
        assert_eq!(m.0[0][1], m.0[1][0]);
        for i in 0..VALUE_COUNT {
            assert!((m.0[i][i] - 1.0).abs() < 1e-12);
        }
        // Values 3..9 are the same column: perfectly correlated.
        assert!((m.get(Value::Power, Value::Universalism) - 1.0).abs() < 1e-12);
        assert_eq!(m.pairs().len(), 45);
        assert_eq!(m.pairs()[0], m.0[0][1]);
        assert_eq!(m.pairs()[44], m.0[8][9]);
        assert!(m.constant_values().is_empty());
    }

    #[test]
    fn a_value_without_variance_is_undefined_not_zero() {
        let mut rows = rows_from_two_columns(&[1.0, 2.0, 3.0], &[3.0, 1.0, 2.0]);
        for r in rows.iter_mut() {
            r[Value::Power.index()] = 4.0;
        }
        let m = CorrelationMatrix::of(&rows);
        assert!(m.get(Value::Power, Value::Achievement).is_nan());
        assert_eq!(m.constant_values(), vec![Value::Power]);
        assert_eq!(matrix_r(&m, &m), None);
    }

    #[test]
    fn matrix_r_correlates_the_45_pairs() {
        // Two matrices whose off-diagonal entries are p and 0.5·p + 0.1: r = 1 exactly; and
        // against −p: r = −1.
        let mut a = [[1.0; VALUE_COUNT]; VALUE_COUNT];
        let (mut b, mut c) = (a, a);
        for i in 0..VALUE_COUNT {
            for j in 0..VALUE_COUNT {
                if i != j {
                    let p = ((i * j) % 7) as f64 / 10.0;
                    a[i][j] = p;
                    b[i][j] = 0.5 * p + 0.1;
                    c[i][j] = -p;
                }
            }
        }
        let (a, b, c) = (
            CorrelationMatrix(a),
            CorrelationMatrix(b),
            CorrelationMatrix(c),
        );
        assert!((matrix_r(&a, &b).unwrap() - 1.0).abs() < 1e-12);
        assert!((matrix_r(&a, &c).unwrap() + 1.0).abs() < 1e-12);
    }

    #[test]
    fn centring_subtracts_each_respondents_item_mean() {
        let rows = [[3.0; VALUE_COUNT], [5.0; VALUE_COUNT]];
        let centred = centre(&rows, &[2.5, 4.0]);
        assert_eq!(centred[0], [0.5; VALUE_COUNT]);
        assert_eq!(centred[1], [1.0; VALUE_COUNT]);
    }
}
