//! A simulation job's results in the explorer: `GET /api/jobs/{id}/simulation` (staff) and its
//! files `GET /api/jobs/{id}/simulation/{file}` (the plots and CSV tables named in `files`).

use serde::{Deserialize, Serialize};

/// The files a simulation's results page may link to, as the URL names them.
pub const SIMULATION_FILES: [&str; 8] = [
    "circumplex.svg",
    "matrix.svg",
    "relations.svg",
    "respondents.csv",
    "expected.csv",
    "relations.csv",
    "representativeness.csv",
    "structure.json",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationResults {
    pub job_id: i32,
    pub strategy: String,
    pub method: String,
    pub model: String,
    pub n: usize,
    /// Distinct persona texts the model was asked with.
    pub speakers: usize,
    pub instruments: Vec<String>,
    pub matrix_r_raw: Option<f64>,
    pub matrix_r_centred: Option<f64>,
    pub procrustes_congruence: Option<f64>,
    pub wasserstein_mean: Option<f64>,
    pub relations_r: Option<f64>,
    /// The people compared against, and their split-half agreement (the ceiling).
    pub reference: String,
    pub ceiling_raw: Option<f64>,
    pub ceiling_centred: Option<f64>,
    pub human_without_dominant: f64,
    pub checks: Vec<TheoryCheckView>,
    /// Which of [`SIMULATION_FILES`] this simulation has.
    pub files: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TheoryCheckView {
    pub name: String,
    pub pass: bool,
    pub value: f64,
    pub detail: String,
}
