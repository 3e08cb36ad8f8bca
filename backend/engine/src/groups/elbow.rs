//! The elbow method for choosing k: within-cluster SSE for a range of k, as a table and as an
//! SVG line plot (plotters' SVG backend writes `<text>` elements, so no font files are needed).

use super::cluster::{cluster_with, KMeansSettings, Point};
use crate::{Error, Result};
use plotters::prelude::*;
use std::ops::RangeInclusive;

/// Within-cluster SSE of the clustering with `k` groups.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ElbowPoint {
    pub k: usize,
    pub sse: f64,
}

const WIDTH: u32 = 640;
const HEIGHT: u32 = 420;
/// More k ticks than this would overlap on the x axis.
const MAX_X_LABELS: usize = 20;

/// Parses `K1..K2` (also `K1..=K2` and `K1-K2`), inclusive on both ends.
pub fn parse_k_range(text: &str) -> Result<RangeInclusive<usize>> {
    let bad = || {
        Error::invalid(format!(
            "bad k range '{text}' (expected K1..K2 with 1 <= K1 < K2, e.g. 2..10)"
        ))
    };
    let (a, b) = text
        .split_once("..=")
        .or_else(|| text.split_once(".."))
        .or_else(|| text.split_once('-'))
        .ok_or_else(bad)?;
    let from: usize = a.trim().parse().map_err(|_| bad())?;
    let to: usize = b.trim().parse().map_err(|_| bad())?;
    if from == 0 || from >= to {
        return Err(bad());
    }
    Ok(from..=to)
}

/// Clusters `points` once per k in `ks` with the same seed.
pub fn elbow(
    points: &[Point],
    ks: RangeInclusive<usize>,
    seed: u64,
    settings: &KMeansSettings,
) -> Result<Vec<ElbowPoint>> {
    ks.map(|k| cluster_with(points, k, seed, settings).map(|c| ElbowPoint { k, sse: c.sse }))
        .collect()
}

/// An SVG line plot of SSE against k, with axis titles and tick labels.
pub fn elbow_svg(points: &[ElbowPoint], title: &str) -> Result<String> {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Err(Error::invalid("no elbow points to plot"));
    };
    let max_sse = points.iter().map(|p| p.sse).fold(0.0, f64::max);
    let draw_err =
        |e: &dyn std::fmt::Display| Error::invalid(format!("cannot draw the elbow plot: {e}"));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw_err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(first.k..last.k, 0.0..max_sse * 1.05 + f64::EPSILON)
            .map_err(|e| draw_err(&e))?;
        chart
            .configure_mesh()
            .x_desc("k (number of groups)")
            .y_desc("within-cluster SSE")
            .x_labels(points.len().min(MAX_X_LABELS))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(|e| draw_err(&e))?;
        let series = points.iter().map(|p| (p.k, p.sse));
        chart
            .draw_series(LineSeries::new(series.clone(), &BLUE))
            .map_err(|e| draw_err(&e))?;
        chart
            .draw_series(series.map(|xy| Circle::new(xy, 4, BLUE.filled())))
            .map_err(|e| draw_err(&e))?;
        root.present().map_err(|e| draw_err(&e))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use valuelab_common::VALUE_COUNT;

    #[test]
    fn k_ranges_parse_inclusively_and_bad_ones_are_refused() {
        assert_eq!(parse_k_range("2..5").unwrap(), 2..=5);
        assert_eq!(parse_k_range("2..=5").unwrap(), 2..=5);
        assert_eq!(parse_k_range("3-4").unwrap(), 3..=4);
        for bad in ["5..2", "0..3", "3..3", "a..4", "4"] {
            let err = parse_k_range(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("'{bad}'")), "{err}");
        }
    }

    #[test]
    fn sse_falls_as_k_grows_on_three_blobs() {
        let centres = [2.0, 3.5, 5.0];
        let points: Vec<Point> = (0..90)
            .map(|i| std::array::from_fn(|j| centres[i % 3] + ((i * 3 + j) % 7) as f64 * 0.01))
            .collect();
        let curve = elbow(&points, 1..=4, 3, &KMeansSettings::default()).unwrap();
        assert_eq!(
            curve.iter().map(|p| p.k).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        for w in curve.windows(2) {
            assert!(w[1].sse < w[0].sse, "{curve:?}");
        }
        // k = 1: SSE is the total sum of squares around the grand mean.
        let mean: Point = std::array::from_fn(|j| points.iter().map(|p| p[j]).sum::<f64>() / 90.0);
        let total: f64 = points
            .iter()
            .map(|p| {
                (0..VALUE_COUNT)
                    .map(|j| (p[j] - mean[j]).powi(2))
                    .sum::<f64>()
            })
            .sum();
        assert!((curve[0].sse - total).abs() < 1e-9 * total);
    }

    #[test]
    fn the_svg_shows_axes_labels_and_one_marker_per_k() {
        let curve = [
            ElbowPoint { k: 2, sse: 900.0 },
            ElbowPoint { k: 3, sse: 500.0 },
            ElbowPoint { k: 4, sse: 420.0 },
        ];
        let svg = elbow_svg(&curve, "Elbow test").unwrap();
        assert!(svg.starts_with("<svg"));
        // The text of every `<text>` element: title, axis titles and tick labels.
        let texts: Vec<&str> = svg
            .split("</text>")
            .filter_map(|part| part.rsplit_once('>').map(|(_, t)| t.trim()))
            .collect();
        for text in [
            "Elbow test",
            "k (number of groups)",
            "within-cluster SSE",
            "2",
            "3",
            "4",
        ] {
            assert!(texts.contains(&text), "missing {text} in {texts:?}");
        }
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("<polyline"));
    }
}
