//! SVG pictures of a value structure with plotters' SVG backend (text as `<text>` elements, no
//! fonts needed): the circumplex (the MDS plane with the sample aligned onto the human
//! configuration) and a heat map of a correlation table (values × values, or values × an
//! instrument's scores).

use super::mds::Configuration;
use crate::{Error, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use valuelab_common::ALL_VALUES;

const CIRCUMPLEX_SIZE: (u32, u32) = (680, 720);
const FONT: &str = "sans-serif";
const SAMPLE_COLOUR: RGBColor = RGBColor(200, 60, 40);
const REFERENCE_COLOUR: RGBColor = RGBColor(110, 110, 110);

fn draw_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::invalid(format!("cannot draw the {what}: {e}"))
}

/// The ten values in the MDS plane: the sample (aligned onto the reference by Procrustes when
/// there is one) in colour, the reference in grey with a line from each value to its place
/// there, and the circle through the reference's mean radius.
pub fn circumplex_svg(
    title: &str,
    sample: &Configuration,
    reference: Option<&Configuration>,
    note: &str,
) -> Result<String> {
    let all: Vec<&[f64; 2]> = sample
        .iter()
        .chain(reference.into_iter().flatten())
        .collect();
    let centre = match reference {
        Some(r) => centroid(r),
        None => centroid(sample),
    };
    let radius_of = |p: &[f64; 2]| ((p[0] - centre[0]).powi(2) + (p[1] - centre[1]).powi(2)).sqrt();
    let extent = all.iter().map(|p| radius_of(p)).fold(1e-9, f64::max) * 1.25;
    let circle_radius = {
        let points = reference.unwrap_or(sample);
        points.iter().map(radius_of).sum::<f64>() / points.len().max(1) as f64
    };
    let w = CIRCUMPLEX_SIZE.0;
    let (cx, cy, scale) = (
        w as f64 / 2.0,
        40.0 + w as f64 / 2.0,
        (w as f64 / 2.0 - 30.0) / extent,
    );
    let pixel = |p: &[f64; 2]| -> (i32, i32) {
        (
            (cx + (p[0] - centre[0]) * scale).round() as i32,
            // Up is positive in the plane, down in pixels.
            (cy - (p[1] - centre[1]) * scale).round() as i32,
        )
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, CIRCUMPLEX_SIZE).into_drawing_area();
        let err = |e| draw_error("circumplex", e);
        root.fill(&WHITE).map_err(err)?;
        root.draw(&Text::new(
            title.to_string(),
            (16, 12),
            (FONT, 18).into_font(),
        ))
        .map_err(err)?;
        root.draw(&Text::new(
            note.to_string(),
            (16, 36),
            (FONT, 13).into_font(),
        ))
        .map_err(err)?;
        root.draw(&Circle::new(
            (cx as i32, cy as i32),
            (circle_radius * scale).round() as i32,
            REFERENCE_COLOUR.mix(0.5).stroke_width(1),
        ))
        .map_err(err)?;
        let label_style = |colour: &'static RGBColor| {
            TextStyle::from((FONT, 13).into_font())
                .color(colour)
                .pos(Pos::new(HPos::Center, VPos::Bottom))
        };
        if let Some(reference) = reference {
            for (k, (s, r)) in sample.iter().zip(reference).enumerate() {
                root.draw(&PathElement::new(
                    vec![pixel(s), pixel(r)],
                    REFERENCE_COLOUR.mix(0.4),
                ))
                .map_err(err)?;
                let (x, y) = pixel(r);
                root.draw(&Circle::new((x, y), 5, REFERENCE_COLOUR.stroke_width(2)))
                    .map_err(err)?;
                root.draw(&Text::new(
                    ALL_VALUES[k].name().to_string(),
                    (x, y - 7),
                    label_style(&REFERENCE_COLOUR),
                ))
                .map_err(err)?;
            }
        }
        for (k, s) in sample.iter().enumerate() {
            let (x, y) = pixel(s);
            root.draw(&Circle::new((x, y), 5, SAMPLE_COLOUR.filled()))
                .map_err(err)?;
            root.draw(&Text::new(
                ALL_VALUES[k].abbreviation().to_string(),
                (x, y + 20),
                label_style(&SAMPLE_COLOUR),
            ))
            .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn centroid(points: &[[f64; 2]]) -> [f64; 2] {
    let n = points.len().max(1) as f64;
    [
        points.iter().map(|p| p[0]).sum::<f64>() / n,
        points.iter().map(|p| p[1]).sum::<f64>() / n,
    ]
}

/// A heat map of `cells[row][column]` in −1..1 (blue negative, red positive, blank for NaN),
/// each cell printed with its value.
pub fn heat_map_svg(
    title: &str,
    rows: &[String],
    columns: &[String],
    cells: &[Vec<f64>],
) -> Result<String> {
    let (cell, left, top) = (56i32, 140i32, 150i32);
    let width = (left + cell * columns.len() as i32 + 20).max(420) as u32;
    let height = (top + cell * rows.len() as i32 + 20) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        let err = |e| draw_error("heat map", e);
        root.fill(&WHITE).map_err(err)?;
        root.draw(&Text::new(
            title.to_string(),
            (16, 12),
            (FONT, 18).into_font(),
        ))
        .map_err(err)?;
        let right =
            TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
        let centred =
            TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
        for (i, name) in rows.iter().enumerate() {
            let y = top + cell * i as i32 + cell / 2;
            root.draw(&Text::new(name.clone(), (left - 6, y), right.clone()))
                .map_err(err)?;
        }
        for (j, name) in columns.iter().enumerate() {
            let x = left + cell * j as i32 + cell / 2;
            // Column names stand rotated over their column.
            let style = TextStyle::from((FONT, 12).into_font())
                .transform(FontTransform::Rotate270)
                .pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(name.clone(), (x, top - 6), style))
                .map_err(err)?;
        }
        for (i, row) in cells.iter().enumerate() {
            for (j, &r) in row.iter().enumerate() {
                let (x, y) = (left + cell * j as i32, top + cell * i as i32);
                let fill = if r.is_nan() {
                    WHITE
                } else if r >= 0.0 {
                    blend(RGBColor(200, 40, 40), r.min(1.0))
                } else {
                    blend(RGBColor(40, 80, 200), (-r).min(1.0))
                };
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    fill.filled(),
                ))
                .map_err(err)?;
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    WHITE.stroke_width(1),
                ))
                .map_err(err)?;
                let text = if r.is_nan() {
                    "–".to_string()
                } else {
                    format!("{r:.2}")
                };
                root.draw(&Text::new(
                    text,
                    (x + cell / 2, y + cell / 2),
                    centred.clone(),
                ))
                .map_err(err)?;
            }
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// White blended towards `colour` by `t` in 0..1.
fn blend(colour: RGBColor, t: f64) -> RGBColor {
    let mix = |c: u8| (255.0 - (255.0 - c as f64) * t).round() as u8;
    RGBColor(mix(colour.0), mix(colour.1), mix(colour.2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::svg_texts;

    #[test]
    fn the_circumplex_names_every_value_of_both_configurations() {
        let sample: Configuration = (0..10)
            .map(|k| {
                let a = k as f64 * 0.6;
                [a.cos(), a.sin()]
            })
            .collect();
        let reference: Configuration = sample.iter().map(|p| [p[0] * 1.1, p[1] * 0.9]).collect();
        let svg = circumplex_svg("t", &sample, Some(&reference), "r = 0.9").unwrap();
        let texts = svg_texts(&svg);
        for v in ALL_VALUES {
            assert!(texts.iter().any(|t| t == v.name()), "{}", v.name());
            assert!(texts.iter().any(|t| t == v.abbreviation()));
        }
        assert!(texts.iter().any(|t| t == "r = 0.9"));
    }

    #[test]
    fn the_heat_map_prints_each_cell_and_leaves_undefined_ones_blank() {
        let svg = heat_map_svg(
            "m",
            &["a".into(), "b".into()],
            &["x".into(), "y".into()],
            &[vec![0.5, -0.25], vec![f64::NAN, 1.0]],
        )
        .unwrap();
        let texts = svg_texts(&svg);
        for text in ["0.50", "-0.25", "–", "1.00", "a", "y"] {
            assert!(texts.iter().any(|t| t == text), "{text}: {texts:?}");
        }
    }
}
