//! The study's charts as SVG, drawn on the server with plotters (the design card's rule: one
//! renderer for every chart, no chart code in the wasm bundle): the target group's value profile
//! shown beside each pair, and the paper's Figure 3 (win / tie / lose of A against B) with
//! Wilson 95 % intervals. Without the `ttf` feature plotters writes plain `<text>` elements, so
//! no fonts are needed on the server.

use plotters::prelude::*;
use valuelab_common::pairwise::{Share, WinTieLose};
use valuelab_common::{ALL_VALUES, VALUE_COUNT};

const FONT: &str = "sans-serif";
const PROFILE_SIZE: (u32, u32) = (420, 360);
const FIGURE_SIZE: (u32, u32) = (720, 300);
/// The PVQ scale of the profiles (1 = not like me at all … 6 = very much like me).
const SCALE: (f64, f64) = (1.0, 6.0);

fn chart_error(what: &str, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing the {what} chart: {e}")
}

/// Horizontal bars of the ten scores on 1..6, in valuelab's value order (top to bottom).
pub fn profile_svg(scores: &[f64; VALUE_COUNT]) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, PROFILE_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| chart_error("profile", e))?;
        let n = VALUE_COUNT as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption("Value profile of the group", (FONT, 16))
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(110)
            .build_cartesian_2d(SCALE.0..SCALE.1, -0.5..(n - 0.5))
            .map_err(|e| chart_error("profile", e))?;
        // Row i (from the top) sits at y = n − 1 − i; only integer positions get a name.
        let name = |y: &f64| {
            let row = (n - 1.0 - y.round()) as usize;
            if (y - y.round()).abs() < 1e-6 {
                ALL_VALUES
                    .get(row)
                    .map(|v| v.name().to_string())
                    .unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(VALUE_COUNT)
            .y_label_formatter(&name)
            .x_labels(6)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style((FONT, 12))
            .draw()
            .map_err(|e| chart_error("profile", e))?;
        let bar = RGBColor(70, 110, 170);
        chart
            .draw_series(scores.iter().enumerate().map(|(i, score)| {
                let y = n - 1.0 - i as f64;
                Rectangle::new(
                    [
                        (SCALE.0, y - 0.35),
                        (score.clamp(SCALE.0, SCALE.1), y + 0.35),
                    ],
                    bar.filled(),
                )
            }))
            .map_err(|e| chart_error("profile", e))?;
        chart
            .draw_series(scores.iter().enumerate().map(|(i, score)| {
                let y = n - 1.0 - i as f64;
                Text::new(
                    format!("{score:.1}"),
                    (score.clamp(SCALE.0, SCALE.1) + 0.05, y + 0.2),
                    (FONT, 11),
                )
            }))
            .map_err(|e| chart_error("profile", e))?;
        root.present().map_err(|e| chart_error("profile", e))?;
    }
    Ok(svg)
}

/// Figure 3: the shares of A wins, ties and B wins as bars with their 95 % intervals.
pub fn win_tie_lose_svg(
    method_a: &str,
    method_b: &str,
    wtl: &WinTieLose,
) -> anyhow::Result<String> {
    let bars: [(String, &Share, RGBColor); 3] = [
        (
            format!("{method_a} (A) wins"),
            &wtl.a_wins,
            RGBColor(46, 125, 50),
        ),
        (
            "tie / can't decide".to_string(),
            &wtl.ties,
            RGBColor(150, 150, 150),
        ),
        (
            format!("{method_b} (B) wins"),
            &wtl.b_wins,
            RGBColor(198, 40, 40),
        ),
    ];
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, FIGURE_SIZE).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| chart_error("win/tie/lose", e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "{method_a} vs {method_b}: {} judgements (95 % Wilson intervals)",
                    wtl.n
                ),
                (FONT, 15),
            )
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(170)
            .build_cartesian_2d(0.0..1.0, -0.5..2.5)
            .map_err(|e| chart_error("win/tie/lose", e))?;
        let label = |y: &f64| {
            let row = 2.0 - y.round();
            if (y - y.round()).abs() < 1e-6 && (0.0..3.0).contains(&row) {
                bars[row as usize].0.clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(3)
            .y_label_formatter(&label)
            .x_label_formatter(&|x| format!("{:.0} %", x * 100.0))
            .label_style((FONT, 12))
            .draw()
            .map_err(|e| chart_error("win/tie/lose", e))?;
        for (row, (_, share, color)) in bars.iter().enumerate() {
            let y = 2.0 - row as f64;
            chart
                .draw_series([Rectangle::new(
                    [(0.0, y - 0.3), (share.share, y + 0.3)],
                    color.filled(),
                )])
                .map_err(|e| chart_error("win/tie/lose", e))?;
            chart
                .draw_series([PathElement::new(
                    vec![(share.ci_low, y), (share.ci_high, y)],
                    BLACK.stroke_width(2),
                )])
                .map_err(|e| chart_error("win/tie/lose", e))?;
            chart
                .draw_series([Text::new(
                    format!("{:.0} % ({})", share.share * 100.0, share.count),
                    ((share.ci_high + 0.01).min(0.85), y + 0.3),
                    (FONT, 12),
                )])
                .map_err(|e| chart_error("win/tie/lose", e))?;
        }
        root.present().map_err(|e| chart_error("win/tie/lose", e))?;
    }
    Ok(svg)
}

/// Figure 3 over method pairs: one stacked bar per pair (A wins, ties, B wins, left to right),
/// each segment labelled with its share.
pub fn method_pairs_svg(pairs: &[(String, String, WinTieLose)]) -> anyhow::Result<String> {
    let rows = pairs.len().max(1);
    let height = 80 + 60 * rows as u32;
    let colors = [
        RGBColor(46, 125, 50),
        RGBColor(150, 150, 150),
        RGBColor(198, 40, 40),
    ];
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (FIGURE_SIZE.0, height)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| chart_error("method pairs", e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "A wins / tie / B wins per method pair, all studies",
                (FONT, 15),
            )
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(230)
            .build_cartesian_2d(0.0..1.0, -0.5..(rows as f64 - 0.5))
            .map_err(|e| chart_error("method pairs", e))?;
        let label = |y: &f64| {
            let row = rows as f64 - 1.0 - y.round();
            match pairs.get(row as usize) {
                Some((a, b, wtl)) if (y - y.round()).abs() < 1e-6 && row >= 0.0 => {
                    format!("{a} (A) vs {b} (B), n = {}", wtl.n)
                }
                _ => String::new(),
            }
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(rows)
            .y_label_formatter(&label)
            .x_label_formatter(&|x| format!("{:.0} %", x * 100.0))
            .label_style((FONT, 12))
            .draw()
            .map_err(|e| chart_error("method pairs", e))?;
        for (row, (_, _, wtl)) in pairs.iter().enumerate() {
            let y = rows as f64 - 1.0 - row as f64;
            let mut start = 0.0;
            for (share, color) in [&wtl.a_wins, &wtl.ties, &wtl.b_wins]
                .into_iter()
                .zip(colors)
            {
                let end = start + share.share;
                chart
                    .draw_series([Rectangle::new(
                        [(start, y - 0.3), (end, y + 0.3)],
                        color.filled(),
                    )])
                    .map_err(|e| chart_error("method pairs", e))?;
                if share.share >= 0.06 {
                    chart
                        .draw_series([Text::new(
                            format!("{:.0} %", share.share * 100.0),
                            (start + 0.01, y + 0.1),
                            (FONT, 12).into_font().color(&WHITE),
                        )])
                        .map_err(|e| chart_error("method pairs", e))?;
                }
                start = end;
            }
        }
        root.present().map_err(|e| chart_error("method pairs", e))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use valuelab_common::pairwise::{win_tie_lose, Canonical};

    #[test]
    fn the_profile_chart_names_every_value_and_its_score() {
        let mut scores = [3.0; VALUE_COUNT];
        scores[0] = 5.5;
        let svg = profile_svg(&scores).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        for value in ALL_VALUES {
            assert!(svg.contains(value.name()), "{}", value.name());
        }
        let texts: Vec<&str> = svg
            .split("</text>")
            .filter_map(|chunk| chunk.rsplit('>').next().map(str::trim))
            .collect();
        assert!(texts.contains(&"5.5"), "{texts:?}");
    }

    #[test]
    fn the_method_pair_figure_has_a_labelled_bar_per_pair() {
        let one = win_tie_lose(&[Canonical::A, Canonical::A, Canonical::A, Canonical::B]).unwrap();
        let two = win_tie_lose(&[Canonical::Tie, Canonical::B]).unwrap();
        let svg = method_pairs_svg(&[
            ("vim".into(), "prompt-long".into(), one),
            ("vim-qa".into(), "prompt-long".into(), two),
        ])
        .unwrap();
        assert!(svg.contains("vim (A) vs prompt-long (B), n = 4"), "{svg}");
        assert!(svg.contains("vim-qa (A) vs prompt-long (B), n = 2"));
        assert!(svg.contains("75 %") && svg.contains("25 %") && svg.contains("50 %"));
    }

    #[test]
    fn the_figure_shows_each_share_with_its_count() {
        let choices = [Canonical::A, Canonical::A, Canonical::B, Canonical::Tie];
        let wtl = win_tie_lose(&choices).unwrap();
        let svg = win_tie_lose_svg("vim", "prompt-long", &wtl).unwrap();
        assert!(svg.contains("vim (A) wins") && svg.contains("prompt-long (B) wins"));
        assert!(
            svg.contains("50 % (2)") && svg.contains("25 % (1)"),
            "{svg}"
        );
    }
}
