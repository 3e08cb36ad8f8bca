//! SVG plots of a task's report with plotters' SVG backend: NMSE per category by method (bars),
//! target against model per group (a radar polygon drawn on the canvas by hand: plotters has no
//! polar charts), and group NMSE against group size (the paper's Figure 5). Without the `ttf`
//! feature plotters lays text out with a naive width estimate and the SVG backend writes real
//! `<text>` elements, so labels need no system fonts and render in any browser.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::f64::consts::PI;
use valuelab_common::Value;

use super::analysis::{RowKind, TaskReport};
use super::markdown::category_header;
use crate::eval::TaskKind;
use crate::{Error, Result};

const BAR_SIZE: (u32, u32) = (960, 520);
const RADAR_SIZE: (u32, u32) = (640, 640);
const SCATTER_SIZE: (u32, u32) = (800, 520);
const FONT: &str = "sans-serif";
/// Share of a category's slot covered by its bars (the rest separates categories).
const BAR_GROUP_WIDTH: f64 = 0.8;
/// Headroom above the largest value: room for the legend box in the upper right, so it does not
/// hide the tallest bars or points.
const HEADROOM: f64 = 1.45;

fn draw_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::invalid(format!("cannot draw the {what} plot: {e}"))
}

/// The task's name in plot titles.
fn short_name(task: TaskKind) -> &'static str {
    match task {
        TaskKind::Pvq => "PVQ-40",
        TaskKind::ValueNet => "ValueNet",
        TaskKind::Ess => "ESS",
        TaskKind::Args => "args",
    }
}

fn color(i: usize) -> RGBColor {
    let c = Palette99::pick(i).to_rgba();
    RGBColor(c.0, c.1, c.2)
}

/// Grouped bars: one group of bars per category, one bar per row (methods, then baselines).
/// `None` when no row has an NMSE.
pub fn nmse_bars(task: &TaskReport) -> Result<Option<String>> {
    let n = task.categories.len();
    let ymax = task
        .rows
        .iter()
        .flat_map(|r| r.nmse_by_category.iter().flatten())
        .fold(0.0_f64, |m, x| m.max(*x));
    if n == 0 || ymax <= 0.0 {
        return Ok(None);
    }
    let labels: Vec<String> = task.categories.iter().map(|c| category_header(c)).collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, BAR_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw_error("bar", e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{}: NMSE per category", short_name(task.task)),
                (FONT, 18),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..ymax * HEADROOM)
            .map_err(|e| draw_error("bar", e))?;
        // Category names sit on the integer positions; other tick positions get no label.
        let formatter = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&formatter)
            .x_desc("category")
            .y_desc("NMSE (lower is better)")
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(|e| draw_error("bar", e))?;
        let width = BAR_GROUP_WIDTH / task.rows.len() as f64;
        for (j, row) in task.rows.iter().enumerate() {
            let c = color(j);
            let left = |i: usize| i as f64 - BAR_GROUP_WIDTH / 2.0 + j as f64 * width;
            chart
                .draw_series(
                    row.nmse_by_category
                        .iter()
                        .enumerate()
                        .filter_map(|(i, y)| {
                            Some(Rectangle::new(
                                [(left(i), 0.0), (left(i) + width, (*y)?)],
                                c.filled(),
                            ))
                        }),
                )
                .map_err(|e| draw_error("bar", e))?
                .label(row.label.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 13))
            .draw()
            .map_err(|e| draw_error("bar", e))?;
        root.present().map_err(|e| draw_error("bar", e))?;
    }
    Ok(Some(svg))
}

/// Radar of one group: the target polygon (black) and each run's polygon over the value keys,
/// on 0..1 with rings at quarters. `None` for tasks not keyed by value or groups without data.
pub fn radar(task: &TaskReport, group: usize) -> Result<Option<String>> {
    let axes: Vec<String> = task
        .keys
        .iter()
        .map(|k| k.parse::<Value>().map(|v| v.abbreviation().to_string()))
        .collect::<std::result::Result<_, _>>()
        .unwrap_or_default();
    let Some(name) = task.groups.get(group).map(|g| g.group.clone()) else {
        return Ok(None);
    };
    let Some(first) = task.rows.first() else {
        return Ok(None);
    };
    if axes.len() < 3 {
        return Ok(None);
    }
    let target = &first.per_group[group].target;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, RADAR_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw_error("radar", e))?;
        let title = format!("{} · {name}: target vs model (0..1)", short_name(task.task));
        root.draw(&Text::new(title, (16, 12), (FONT, 18).into_font()))
            .map_err(|e| draw_error("radar", e))?;
        let canvas = Radar::new(&root, axes.len());
        canvas.grid(&axes).map_err(|e| draw_error("radar", e))?;
        canvas
            .polygon(target, &BLACK, 3)
            .map_err(|e| draw_error("radar", e))?;
        let mut legend = vec![("target".to_string(), BLACK)];
        for (j, row) in task
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.kind == RowKind::Run)
        {
            let c = color(j);
            canvas
                .polygon(&row.per_group[group].predicted, &c, 2)
                .map_err(|e| draw_error("radar", e))?;
            legend.push((row.label.clone(), c));
        }
        for (i, (label, c)) in legend.iter().enumerate() {
            let y = 40 + 18 * i as i32;
            root.draw(&Rectangle::new([(16, y - 5), (28, y + 5)], c.filled()))
                .map_err(|e| draw_error("radar", e))?;
            root.draw(&Text::new(
                label.clone(),
                (34, y),
                TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(|e| draw_error("radar", e))?;
        }
        root.present().map_err(|e| draw_error("radar", e))?;
    }
    Ok(Some(svg))
}

/// Pixel geometry of a radar: axis k points at angle −90° + 360°·k/n (first axis straight up).
struct Radar<'a, 'b> {
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    center: (f64, f64),
    radius: f64,
    n: usize,
}

/// Radius of the outer ring as a share of half the canvas (the rest holds the axis labels).
const RADAR_FILL: f64 = 0.68;
/// Values drawn beyond the outer ring are clipped here so a wild prediction stays on the canvas.
const RADAR_MAX: f64 = 1.15;

impl<'a, 'b> Radar<'a, 'b> {
    fn new(area: &'a DrawingArea<SVGBackend<'b>, Shift>, n: usize) -> Self {
        let (w, h) = area.dim_in_pixel();
        let center = (w as f64 / 2.0, h as f64 / 2.0 + 16.0);
        Radar {
            area,
            center,
            radius: RADAR_FILL * w.min(h) as f64 / 2.0,
            n,
        }
    }

    fn point(&self, k: usize, r: f64) -> (i32, i32) {
        let angle = -PI / 2.0 + 2.0 * PI * k as f64 / self.n as f64;
        let r = r.clamp(0.0, RADAR_MAX) * self.radius;
        (
            (self.center.0 + r * angle.cos()).round() as i32,
            (self.center.1 + r * angle.sin()).round() as i32,
        )
    }

    fn grid(
        &self,
        labels: &[String],
    ) -> std::result::Result<(), DrawingAreaErrorKind<std::io::Error>> {
        let grey = RGBColor(190, 190, 190);
        for ring in [0.25, 0.5, 0.75, 1.0] {
            let mut points: Vec<(i32, i32)> = (0..self.n).map(|k| self.point(k, ring)).collect();
            points.push(self.point(0, ring));
            self.area.draw(&PathElement::new(points, grey))?;
            self.area.draw(&Text::new(
                format!("{ring}"),
                self.point(0, ring),
                (FONT, 10).into_font().color(&grey),
            ))?;
        }
        for (k, label) in labels.iter().enumerate() {
            self.area.draw(&PathElement::new(
                vec![self.point(k, 0.0), self.point(k, 1.0)],
                grey,
            ))?;
            let (x, y) = self.point(k, 1.14);
            let h = match x.cmp(&(self.center.0 as i32)) {
                std::cmp::Ordering::Less => HPos::Right,
                std::cmp::Ordering::Equal => HPos::Center,
                std::cmp::Ordering::Greater => HPos::Left,
            };
            let style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(h, VPos::Center));
            self.area.draw(&Text::new(label.clone(), (x, y), style))?;
        }
        Ok(())
    }

    /// A closed polygon through the defined values (missing values are left out).
    fn polygon(
        &self,
        values: &[Option<f64>],
        c: &RGBColor,
        width: u32,
    ) -> std::result::Result<(), DrawingAreaErrorKind<std::io::Error>> {
        let mut points: Vec<(i32, i32)> = values
            .iter()
            .enumerate()
            .filter_map(|(k, v)| Some(self.point(k, (*v)?)))
            .collect();
        if points.len() < 2 {
            return Ok(());
        }
        points.push(points[0]);
        self.area
            .draw(&PathElement::new(points, c.stroke_width(width)))
    }
}

/// Group NMSE against group size, one series per row. `None` without known sizes.
pub fn size_scatter(task: &TaskReport) -> Result<Option<String>> {
    let points: Vec<Vec<(f64, f64)>> = task
        .rows
        .iter()
        .map(|row| {
            row.per_group
                .iter()
                .filter_map(|g| Some((g.size? as f64, g.nmse?)))
                .collect()
        })
        .collect();
    let all: Vec<&(f64, f64)> = points.iter().flatten().collect();
    if all.is_empty() {
        return Ok(None);
    }
    let xmax = all.iter().fold(0.0_f64, |m, p| m.max(p.0)).max(1.0);
    let ymax = all.iter().fold(0.0_f64, |m, p| m.max(p.1)).max(1e-6);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SCATTER_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw_error("scatter", e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{}: group NMSE against group size", short_name(task.task)),
                (FONT, 18),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..xmax * HEADROOM, 0.0..ymax * HEADROOM)
            .map_err(|e| draw_error("scatter", e))?;
        chart
            .configure_mesh()
            .x_label_formatter(&|x: &f64| format!("{x:.0}"))
            .x_desc("group size (respondents)")
            .y_desc("group NMSE")
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(|e| draw_error("scatter", e))?;
        for (j, (row, pts)) in task.rows.iter().zip(&points).enumerate() {
            let c = color(j);
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))
                .map_err(|e| draw_error("scatter", e))?
                .label(row.label.clone())
                .legend(move |(x, y)| Circle::new((x + 5, y), 4, c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 13))
            .draw()
            .map_err(|e| draw_error("scatter", e))?;
        root.present().map_err(|e| draw_error("scatter", e))?;
    }
    Ok(Some(svg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::report::analysis::{build_report, ReportOptions};
    use crate::eval::report::fixtures::pvq_run;
    use crate::output::svg_texts;

    fn pvq_task() -> TaskReport {
        let runs = [
            pvq_run("prompt-long", 0.1, [Some(50), Some(80), Some(120)]),
            pvq_run("vim", -0.05, [Some(50), Some(80), Some(120)]),
        ];
        build_report(&runs, &ReportOptions::default())
            .unwrap()
            .tasks
            .remove(0)
    }

    #[test]
    fn the_bar_plot_labels_categories_axes_and_methods() {
        let svg = nmse_bars(&pvq_task()).unwrap().unwrap();
        let t = svg_texts(&svg);
        for label in [
            "Ach",
            "Uni",
            "SD",
            "NMSE (lower is better)",
            "category",
            "prompt-long",
            "vim",
            "value-blind baseline",
        ] {
            assert!(t.iter().any(|x| x == label), "no text '{label}' in {t:?}");
        }
        assert!(
            svg.matches("<rect").count() >= 30,
            "10 categories × 3 rows of bars"
        );
    }

    #[test]
    fn the_radar_shows_the_values_the_target_and_each_run() {
        let task = pvq_task();
        let svg = radar(&task, 0).unwrap().unwrap();
        let t = svg_texts(&svg);
        for label in ["Ach", "Ben", "Uni", "target", "prompt-long", "vim", "0.5"] {
            assert!(t.iter().any(|x| x == label), "no text '{label}' in {t:?}");
        }
        assert!(t.iter().any(|x| x.contains("Group_1")));
        // target + 2 runs as closed polylines, plus 4 rings and 10 spokes
        assert!(svg.matches("<polyline").count() >= 3 + 4 + 10);
    }

    #[test]
    fn the_size_scatter_has_axis_titles_and_a_point_per_group_and_row() {
        let svg = size_scatter(&pvq_task()).unwrap().unwrap();
        let t = svg_texts(&svg);
        assert!(
            t.iter().any(|x| x == "group size (respondents)")
                && t.iter().any(|x| x == "group NMSE")
        );
        // 3 groups × 3 rows, plus 3 legend markers
        assert_eq!(svg.matches("<circle").count(), 12);
    }

    #[test]
    fn no_sizes_means_no_scatter() {
        let runs = [pvq_run("vim", 0.1, [None; 3])];
        let task = build_report(&runs, &ReportOptions::default())
            .unwrap()
            .tasks
            .remove(0);
        assert!(size_scatter(&task).unwrap().is_none());
    }
}
