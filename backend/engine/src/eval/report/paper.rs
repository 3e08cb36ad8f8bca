//! The paper's own LLaMA-7B results (Kang et al., EMNLP 2023, "From Values to Opinions"),
//! printed beside valuelab's rows for the method that matches, always labelled as the paper's.
//! Numbers copied from Tables 2–4 of the paper.

use crate::eval::TaskKind;

/// The paper's name of valuelab's method, and its figures on one task.
pub struct PaperRow {
    pub method: &'static str,
    pub paper_name: &'static str,
    /// Table 2: the single NMSE; Table 3: Ach … Uni then Ave.; Table 4: MST, PSWB, POL, UD, Ave.
    pub figures: &'static [f64],
}

/// Table 2 (PVQ-40), NMSE averaged over 128 target distributions.
pub const TABLE_2: [PaperRow; 5] = [
    PaperRow {
        method: "prompt-short",
        paper_name: "LLaMA-7B Short",
        figures: &[0.196],
    },
    PaperRow {
        method: "prompt-long",
        paper_name: "LLaMA-7B Long",
        figures: &[0.189],
    },
    PaperRow {
        method: "vim-ag",
        paper_name: "ViLLaMA-7B AG",
        figures: &[0.182],
    },
    PaperRow {
        method: "vim-qa",
        paper_name: "ViLLaMA-7B QA",
        figures: &[0.053],
    },
    PaperRow {
        method: "vim",
        paper_name: "ViLLaMA-7B",
        figures: &[0.034],
    },
];

/// Table 3 (ValueNet): Ach, Ben, Con, Hed, Pow, Sec, SD, Sti, Tra, Uni, Ave.
pub const TABLE_3: [PaperRow; 5] = [
    PaperRow {
        method: "prompt-short",
        paper_name: "LLaMA-7B Short",
        figures: &[
            0.092, 0.180, 0.082, 0.091, 0.031, 0.138, 0.095, 0.065, 0.086, 0.179, 0.104,
        ],
    },
    PaperRow {
        method: "prompt-long",
        paper_name: "LLaMA-7B Long",
        figures: &[
            0.075, 0.118, 0.057, 0.049, 0.030, 0.098, 0.091, 0.050, 0.069, 0.095, 0.073,
        ],
    },
    PaperRow {
        method: "vim-ag",
        paper_name: "ViLLaMA-7B AG",
        figures: &[
            0.161, 0.247, 0.106, 0.123, 0.044, 0.206, 0.082, 0.097, 0.140, 0.151, 0.137,
        ],
    },
    PaperRow {
        method: "vim-qa",
        paper_name: "ViLLaMA-7B QA",
        figures: &[
            0.065, 0.127, 0.054, 0.053, 0.029, 0.101, 0.075, 0.058, 0.084, 0.109, 0.075,
        ],
    },
    PaperRow {
        method: "vim",
        paper_name: "ViLLaMA-7B",
        figures: &[
            0.049, 0.125, 0.056, 0.052, 0.035, 0.097, 0.074, 0.049, 0.072, 0.094, 0.071,
        ],
    },
];

/// The chapters of Table 4, in its column order (it has no subjective well-being column).
pub const TABLE_4_CHAPTERS: [&str; 4] = [
    "media_and_social_trust",
    "personal_and_social_well-being",
    "politics",
    "understanding_democracy",
];

/// Table 4 (ESS): MST, PSWB, POL, UD, Ave. (the mean of the four chapters).
pub const TABLE_4: [PaperRow; 5] = [
    PaperRow {
        method: "prompt-short",
        paper_name: "LLaMA-7B Short",
        figures: &[0.197, 0.148, 0.384, 0.153, 0.221],
    },
    PaperRow {
        method: "prompt-long",
        paper_name: "LLaMA-7B Long",
        figures: &[0.079, 0.115, 0.281, 0.072, 0.137],
    },
    PaperRow {
        method: "vim-ag",
        paper_name: "ViLLaMA-7B AG",
        figures: &[0.106, 0.078, 0.272, 0.238, 0.174],
    },
    PaperRow {
        method: "vim-qa",
        paper_name: "ViLLaMA-7B QA",
        figures: &[0.067, 0.069, 0.210, 0.052, 0.099],
    },
    PaperRow {
        method: "vim",
        paper_name: "ViLLaMA-7B",
        figures: &[0.061, 0.059, 0.139, 0.140, 0.099],
    },
];

/// The paper's rows of `task` for the given methods.
pub fn rows_for(task: TaskKind, methods: &[&str]) -> Vec<&'static PaperRow> {
    let table: &'static [PaperRow] = match task {
        TaskKind::Pvq => &TABLE_2,
        TaskKind::ValueNet => &TABLE_3,
        TaskKind::Ess => &TABLE_4,
        TaskKind::Args => &[],
    };
    table
        .iter()
        .filter(|row| methods.contains(&row.method))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_papers_averages_are_the_means_of_their_columns() {
        // A check on the transcription: Ave. = mean of the columns, to the paper's 3 decimals.
        for row in TABLE_3.iter().chain(&TABLE_4) {
            let (columns, ave) = row.figures.split_at(row.figures.len() - 1);
            let mean = columns.iter().sum::<f64>() / columns.len() as f64;
            assert!(
                (mean - ave[0]).abs() <= 0.0015,
                "{}: {mean} vs {}",
                row.paper_name,
                ave[0]
            );
        }
    }

    #[test]
    fn only_matching_methods_get_paper_rows() {
        let rows = rows_for(TaskKind::Pvq, &["prompt-long", "base"]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].figures, &[0.189]);
        assert!(rows_for(TaskKind::Args, &["prompt-long"]).is_empty());
    }
}
