//! `valuelab kappa FILE`: Fleiss' kappa of annotators' judgements, from either a counts table or
//! long-format judgements (tab-separated). The file is read and checked by
//! `valuelab_engine::data::judgements`, the statistics live in `valuelab_common::kappa`; this
//! module prints the result.

use super::GlobalArgs;
use anyhow::Context;
use std::path::{Path, PathBuf};
use valuelab_common::kappa::{fleiss_kappa, Kappa};
use valuelab_engine::data::judgements::{read_table, Format, Table};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Tab-separated judgements: a counts table (one row per subject, one column per category,
    /// optionally a header row of category names and a first column of subject ids), or
    /// long format with a header `subject`, `rater`, `category` (one row per judgement).
    pub file: PathBuf,
}

pub fn run(_global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let table = read_table(&text, &args.file)?;
    let kappa =
        fleiss_kappa(&table.counts).with_context(|| format!("kappa of {}", args.file.display()))?;
    print!("{}", report(&args.file, &table, &kappa));
    Ok(())
}

/// The printed result: one `name: value` line each, so scripts can grep it.
pub fn report(file: &Path, table: &Table, kappa: &Kappa) -> String {
    let format = match table.format {
        Format::Counts => "counts table",
        Format::Long => "long-format judgements",
    };
    let kappa_line = match kappa.kappa {
        Some(k) => format!("{k:.4}"),
        None => {
            "undefined: chance agreement is 1 (every judgement is in the same category)".to_string()
        }
    };
    format!(
        "file: {} ({format})\nsubjects: {}\ncategories: {} ({})\nobserved agreement: {:.4}\nchance agreement: {:.4}\nkappa: {kappa_line}\n",
        file.display(),
        kappa.subjects,
        kappa.categories,
        table.categories.join(", "),
        kappa.observed,
        kappa.chance,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> valuelab_engine::Result<Table> {
        read_table(text, Path::new("k.tsv"))
    }

    #[test]
    fn report_prints_kappa_or_why_it_is_undefined() {
        let t = read("yes\tno\n3\t0\n0\t3\n").unwrap();
        let k = fleiss_kappa(&t.counts).unwrap();
        let out = report(Path::new("k.tsv"), &t, &k);
        assert!(out.contains("kappa: 1.0000\n"), "{out}");
        assert!(out.contains("categories: 2 (yes, no)"), "{out}");
        let t = read("yes\tno\n3\t0\n2\t0\n").unwrap();
        let k = fleiss_kappa(&t.counts).unwrap();
        assert!(
            report(Path::new("k.tsv"), &t, &k).contains("kappa: undefined: chance agreement is 1")
        );
    }
}
