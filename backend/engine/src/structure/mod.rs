//! Value structure: how the ten value scores of a population relate, compared with people.
//! For a sample (simulated personas or ESS respondents) and a human reference sample it gives
//! the 10×10 correlation matrix (raw or within-person centred), its classical MDS plane aligned
//! by Procrustes onto the reference's, the Pearson r between the two matrices over their 45
//! pairs, the theory's checks, and how often each value dominates. The reference's agreement
//! with itself (two random halves) is the ceiling a model can be measured against.

pub mod checks;
pub mod dominant;
pub mod matrix;
pub mod mds;
pub mod outputs;
pub mod plots;
pub mod sample;

pub use checks::{theory_checks, TheoryCheck};
pub use dominant::{dominant_share, dominant_value, DominantShare, DEFAULT_GAP, REPORTED_GAPS};
pub use matrix::{matrix_r, CorrelationMatrix, Scores};
pub use mds::{classical_mds, procrustes, Mds, Procrustes};
pub use outputs::{summary, write_structure};
pub use sample::{read_ess_sample, read_simulated_sample, Sample};

use crate::Result;
use serde::Serialize;

/// Choices of an analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct StructureOptions {
    /// Correlate within-person centred scores (the convention in value research).
    pub centred: bool,
    /// The gap G of the dominant-value rule.
    pub gap: f64,
    /// Seed of the split into halves for the ceiling.
    pub seed: u64,
}

impl Default for StructureOptions {
    fn default() -> Self {
        Self {
            centred: false,
            gap: DEFAULT_GAP,
            seed: 0,
        }
    }
}

/// Everything `valuelab structure` reports; `--json` prints it as is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StructureReport {
    pub label: String,
    /// Respondents analysed.
    pub n: usize,
    pub skipped: usize,
    pub centred: bool,
    /// Pearson r of the 45 pairwise correlations against the reference (raw or centred, as
    /// `centred` says); null when some value has no variance.
    pub matrix_r: Option<f64>,
    /// The same r for the other treatment, so both are on record.
    pub matrix_r_raw: Option<f64>,
    pub matrix_r_centred: Option<f64>,
    /// The sample's MDS plane aligned onto the reference's; null when the matrix is undefined.
    pub procrustes: Option<Procrustes>,
    pub checks: Vec<TheoryCheck>,
    /// The dominant-value shares at the chosen gap.
    pub dominant_share: DominantShare,
    /// The same at each of `REPORTED_GAPS`.
    pub dominant_by_gap: Vec<DominantShare>,
    pub matrix: CorrelationMatrix,
    pub mds: Option<Mds>,
    /// Values with no variance across the sample (their correlations are undefined).
    pub constant_values: Vec<String>,
    pub reference: ReferenceSummary,
}

/// The human sample compared against, and its agreement with itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReferenceSummary {
    pub label: String,
    pub n: usize,
    pub matrix: CorrelationMatrix,
    pub mds: Option<Mds>,
    /// Matrix r between two random halves of the reference, raw and centred: the ceiling.
    pub split_half_r_raw: Option<f64>,
    pub split_half_r_centred: Option<f64>,
    pub checks: Vec<TheoryCheck>,
}

/// Analyses `sample` against `reference`.
pub fn analyse(
    sample: &Sample,
    reference: &Sample,
    options: &StructureOptions,
) -> Result<StructureReport> {
    let matrix = sample.matrix(options.centred);
    let reference_matrix = reference.matrix(options.centred);
    let mds = plane(&matrix);
    let reference_mds = plane(&reference_matrix);
    let procrustes = match (&mds, &reference_mds) {
        (Some(m), Some(r)) => Some(procrustes(&m.points, &r.points)?),
        _ => None,
    };
    let (half_a, half_b) = reference.split_halves(options.seed);
    let matrix_r_raw = matrix_r(&sample.matrix(false), &reference.matrix(false));
    let matrix_r_centred = matrix_r(&sample.matrix(true), &reference.matrix(true));
    Ok(StructureReport {
        label: sample.label.clone(),
        n: sample.len(),
        skipped: sample.skipped,
        centred: options.centred,
        matrix_r: if options.centred {
            matrix_r_centred
        } else {
            matrix_r_raw
        },
        matrix_r_raw,
        matrix_r_centred,
        procrustes,
        checks: theory_checks(&matrix),
        dominant_share: dominant_share(&sample.scores, options.gap),
        dominant_by_gap: REPORTED_GAPS
            .iter()
            .map(|&g| dominant_share(&sample.scores, g))
            .collect(),
        constant_values: matrix
            .constant_values()
            .iter()
            .map(|v| v.name().to_string())
            .collect(),
        matrix,
        mds,
        reference: ReferenceSummary {
            label: reference.label.clone(),
            n: reference.len(),
            checks: theory_checks(&reference_matrix),
            matrix: reference_matrix,
            mds: reference_mds,
            split_half_r_raw: matrix_r(&half_a.matrix(false), &half_b.matrix(false)),
            split_half_r_centred: matrix_r(&half_a.matrix(true), &half_b.matrix(true)),
        },
    })
}

/// The MDS plane of a correlation matrix; `None` when an entry is undefined.
fn plane(matrix: &CorrelationMatrix) -> Option<Mds> {
    if !matrix.constant_values().is_empty() {
        return None;
    }
    classical_mds(&mds::correlation_distances(&matrix.0)).ok()
}

#[cfg(test)]
mod tests;
