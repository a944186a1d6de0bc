//! The dashboard's charts, drawn with `plotters` into SVG text that the page puts in place
//! (`inner_html`): figures over time as grouped columns, and figures by category or station as
//! grouped horizontal bars (long Chinese names read well down the side). Each group has one
//! bar per [`SERIES`] figure, filled with that figure's colour ([`series_colour`]); the legend
//! is HTML beside the chart, so its swatches are not bars and its words follow the language.
//!
//! On wasm32 plotters measures text through the browser (a hidden `<span>`), so Chinese labels
//! are laid out with their real widths; the SVG names a font list with CJK fonts first. Values
//! are plotters' escaping of text; nothing else from the server goes into the SVG.

use crate::i18n::Lang;
use liaison_domain::figures::{Breakdown, Figure, FigureReport, Figures};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The figures drawn, in order, each with its colour.
pub const SERIES: [(Figure, RGBColor); 4] = [
    (Figure::OpinionsCollected, RGBColor(0xB3, 0x26, 0x1E)),
    (Figure::AnsweredOnTheSpot, RGBColor(0x1B, 0x6E, 0x3A)),
    (Figure::Referred, RGBColor(0xC7, 0x8A, 0x00)),
    (Figure::Concluded, RGBColor(0x1F, 0x5F, 0xAD)),
];

/// The most groups a bar chart by category or station draws: the largest by opinions
/// collected (the table below lists them all).
pub const MAX_GROUPS: usize = 20;

/// The font the SVG's text asks for (CJK first, as the stylesheet does).
const FONT: &str =
    "PingFang SC, Noto Sans CJK SC, Microsoft YaHei, WenQuanYi Micro Hei, sans-serif";
const FONT_SIZE: f64 = 15.0;
const WIDTH: u32 = 960;
const TIME_HEIGHT: u32 = 360;
/// One group of horizontal bars, in pixels.
const GROUP_HEIGHT: u32 = 40;
/// The bar charts sit side by side in narrower boxes than the chart over time: drawn narrower and
/// never flat, so that their labels stay readable once the SVG is scaled to its box.
const BARS_WIDTH: u32 = 640;
const BARS_MIN_HEIGHT: u32 = 240;

/// A series colour as SVG writes it (`#B3261E`): the `fill` of its bars.
pub fn series_colour(figure: Figure) -> Option<String> {
    SERIES
        .iter()
        .find(|(f, _)| *f == figure)
        .map(|(_, c)| format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2))
}

/// The figures over time (a report broken down by month or day) as grouped columns, one group
/// per month or day, labelled `2026-03` or `03-02`.
pub fn over_time_svg(report: &FigureReport, lang: Lang) -> String {
    let daily = report.by == Some(Breakdown::Day);
    let groups: Vec<(String, Figures)> = report
        .rows
        .iter()
        .map(|row| {
            let label = if daily {
                row.key.get(5..).unwrap_or(&row.key).to_owned()
            } else {
                row.key.clone()
            };
            (label, row.figures)
        })
        .collect();
    render((WIDTH, TIME_HEIGHT), |root| columns(root, &groups, lang))
}

/// Figures by category or station as grouped horizontal bars, the largest [`MAX_GROUPS`] by
/// opinions collected, each group labelled with `groups`' label.
pub fn bars_svg(groups: &[(String, Figures)], lang: Lang) -> String {
    let shown = largest(groups);
    let height = (70 + GROUP_HEIGHT * shown.len().max(1) as u32).max(BARS_MIN_HEIGHT);
    render((BARS_WIDTH, height), |root| bars(root, &shown, lang))
}

/// The groups a bar chart draws: the [`MAX_GROUPS`] largest by opinions collected, in that
/// order (ties keep the report's order).
pub fn largest(groups: &[(String, Figures)]) -> Vec<(String, Figures)> {
    let mut sorted = groups.to_vec();
    sorted.sort_by_key(|(_, f)| std::cmp::Reverse(f.opinions_collected));
    sorted.truncate(MAX_GROUPS);
    sorted
}

fn render(
    size: (u32, u32),
    draw: impl FnOnce(
        &DrawingArea<SVGBackend<'_>, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<std::io::Error>>,
) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        // A chart that fails to draw is left blank rather than breaking the page.
        let _ = draw(&root).and_then(|()| root.present());
    }
    svg
}

fn unit(lang: Lang) -> String {
    crate::i18n::text(lang, "charts.unit")
}

/// The top of the value axis: a little above the largest value, and at least 1.
fn axis_top(groups: &[(String, Figures)]) -> u64 {
    let max = groups
        .iter()
        .flat_map(|(_, f)| SERIES.iter().map(|(figure, _)| f.count(*figure)))
        .max()
        .unwrap_or(0);
    max + max / 10 + 1
}

fn label_style(anchor: Pos) -> TextStyle<'static> {
    TextStyle::from((FONT, FONT_SIZE).into_font())
        .color(&RGBColor(0x1C, 0x1B, 0x1F))
        .pos(anchor)
}

/// A rough width of `text` in pixels, for the label column (CJK characters are about twice as
/// wide as Latin ones).
fn text_width(text: &str) -> u32 {
    text.chars()
        .map(|c| if c.is_ascii() { 9 } else { 16 })
        .sum()
}

fn columns<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    groups: &[(String, Figures)],
    lang: Lang,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let n = groups.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..n as f64, 0u64..axis_top(groups))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(6)
        .y_desc(unit(lang))
        .label_style((FONT, FONT_SIZE))
        .axis_desc_style((FONT, FONT_SIZE))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(0xE6, 0xE3, 0xEA))
        .draw()?;
    let width = 0.8 / SERIES.len() as f64;
    for (i, (_, figures)) in groups.iter().enumerate() {
        chart.draw_series(SERIES.iter().enumerate().map(|(j, (figure, colour))| {
            let left = i as f64 + 0.1 + j as f64 * width;
            Rectangle::new(
                [(left, figures.count(*figure)), (left + width, 0)],
                colour.filled(),
            )
        }))?;
    }
    // One label in `every` so that they do not overlap (a daily chart has up to 62 days).
    let slot = (WIDTH as usize - 80) / n;
    let widest = groups
        .iter()
        .map(|(l, _)| text_width(l) as usize)
        .max()
        .unwrap_or(1);
    let every = (widest + 8).div_ceil(slot.max(1)).max(1);
    for (i, (label, _)) in groups.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0));
        root.draw(&Text::new(
            label.clone(),
            (x, y + 6),
            label_style(Pos::new(HPos::Center, VPos::Top)),
        ))?;
    }
    Ok(())
}

fn bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    groups: &[(String, Figures)],
    lang: Lang,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let n = groups.len().max(1);
    let label_width = groups
        .iter()
        .map(|(l, _)| text_width(l))
        .max()
        .unwrap_or(0)
        .clamp(60, 300)
        + 16;
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(label_width)
        .build_cartesian_2d(0u64..axis_top(groups), 0f64..n as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(6)
        .x_desc(unit(lang))
        .label_style((FONT, FONT_SIZE))
        .axis_desc_style((FONT, FONT_SIZE))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(0xE6, 0xE3, 0xEA))
        .draw()?;
    let height = 0.8 / SERIES.len() as f64;
    for (i, (_, figures)) in groups.iter().enumerate() {
        // The first group at the top.
        let top = (n - i) as f64 - 0.1;
        chart.draw_series(SERIES.iter().enumerate().map(|(j, (figure, colour))| {
            let upper = top - j as f64 * height;
            Rectangle::new(
                [(0, upper), (figures.count(*figure), upper - height)],
                colour.filled(),
            )
        }))?;
    }
    for (i, (label, _)) in groups.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0, (n - i) as f64 - 0.5));
        root.draw(&Text::new(
            label.clone(),
            (x - 8, y),
            label_style(Pos::new(HPos::Right, VPos::Center)),
        ))?;
    }
    Ok(())
}
