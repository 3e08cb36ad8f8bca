//! Target against model score for each value across the held-out profiles (one plot per
//! method): points on the diagonal are a method that carries the profile; a flat band is one
//! that answers the same whoever it is told to be.

use crate::eval::RunResult;
use crate::{Error, Result};
use plotters::prelude::*;

const SIZE: (u32, u32) = (720, 600);
const FONT: &str = "sans-serif";

fn draw_error(e: impl std::fmt::Display) -> Error {
    Error::invalid(format!("cannot draw the target-against-model plot: {e}"))
}

/// The SVG of `result` (a PVQ-40 or ValueNet run on the held-out profiles), titled `title`.
pub fn target_against_model(result: &RunResult, title: &str) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc("target (profile score, rescaled 0..1)")
            .y_desc("model score (0..1)")
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(draw_error)?;
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.4)))
            .map_err(draw_error)?;
        for (k, key) in result.keys.iter().enumerate() {
            let c = Palette99::pick(k).to_rgba();
            let color = RGBColor(c.0, c.1, c.2);
            let points: Vec<(f64, f64)> = result
                .groups
                .iter()
                .filter_map(|g| {
                    Some((
                        g.target.get(k).copied().flatten()?,
                        g.predicted.get(k).copied().flatten()?,
                    ))
                })
                .collect();
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, color.filled())),
                )
                .map_err(draw_error)?
                .label(key.clone())
                .legend(move |(x, y)| Circle::new((x + 5, y), 4, color.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 12))
            .draw()
            .map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}
