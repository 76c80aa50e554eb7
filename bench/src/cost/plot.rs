//! `bench/results/cost.svg`: dollars per million comments by audience (log–log), Banter and
//! the naive design (with only the audience connected, and with the platform's connections).
//! Left: the whole bill. Right: the bill without the WebSocket messages and their data
//! transfer, which are the same in both designs and hide the difference between them.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::model::{Costs, component};
use super::report;
use super::results::{AudienceRun, CostResults};
use crate::BoxError;

/// One line of the plot.
struct Series {
    name: String,
    color: RGBColor,
    width: u32,
    pick: fn(&AudienceRun) -> &Costs,
}

fn banter(r: &AudienceRun) -> &Costs {
    &r.dollars.banter
}

fn naive(r: &AudienceRun) -> &Costs {
    &r.dollars.naive
}

fn naive_platform(r: &AudienceRun) -> &Costs {
    &r.dollars.naive_platform
}

/// Dollars per million comments of the whole bill.
fn total(c: &Costs) -> f64 {
    c.per_million()
}

/// Dollars per million comments without the WebSocket messages and their transfer.
fn without_messages(c: &Costs) -> f64 {
    (c.per_comment() - c.of(component::WEBSOCKET) - c.of(component::TRANSFER)) * 1e6
}

/// A log-scale range around `values`: from half the smallest to twice the largest.
fn bounds(values: &[f64]) -> (f64, f64) {
    let lo = values
        .iter()
        .copied()
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    if lo.is_finite() && hi > 0.0 {
        (lo / 2.0, hi * 2.0)
    } else {
        (0.1, 10.0)
    }
}

fn panel(
    area: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    runs: &[AudienceRun],
    series: &[Series],
    value: fn(&Costs) -> f64,
) -> Result<(), BoxError> {
    let xs: Vec<f64> = runs.iter().map(|r| r.audience as f64).collect();
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| runs.iter().map(move |r| value((s.pick)(r))))
        .collect();
    let (x_lo, x_hi) = bounds(&xs);
    let (y_lo, y_hi) = bounds(&ys);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 17))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(78)
        .build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale())?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .x_desc("subscribers of the event (WebSocket clients)")
        .y_desc("US$ per million comments")
        .x_label_formatter(&|x| report::num(*x))
        .y_label_formatter(&|y| report::dollars(*y))
        .draw()?;
    for s in series {
        let points: Vec<(f64, f64)> = runs
            .iter()
            .map(|r| (r.audience as f64, value((s.pick)(r))))
            .collect();
        let (color, width) = (s.color, s.width);
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(width)))?
            .label(s.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width))
            });
        chart.draw_series(
            points
                .iter()
                .map(|p| Circle::new(*p, width + 2, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// Draws the plot of `results` to `path`.
pub fn write(results: &CostResults, path: &Path) -> Result<(), BoxError> {
    let runs = &results.runs;
    if runs.is_empty() {
        return Err("no runs to plot".into());
    }
    // Drawn in this order: Banter last, on top, since the naive line with only the audience
    // connected can lie right under it.
    let series = [
        Series {
            name: format!(
                "naive Scan, {} connections on the platform",
                report::num(results.platform_connections)
            ),
            color: RGBColor(214, 39, 40),
            width: 2,
            pick: naive_platform,
        },
        Series {
            name: "naive Scan, only this audience connected".into(),
            color: RGBColor(255, 127, 14),
            width: 4,
            pick: naive,
        },
        Series {
            name: "Banter (Query of the room's subscriptions)".into(),
            color: RGBColor(31, 119, 180),
            width: 2,
            pick: banter,
        },
    ];
    let root = SVGBackend::new(path, (1280, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        &format!(
            "Cost per million comments by audience (AWS {}, prices of {})",
            results.prices.region, results.prices.checked
        ),
        ("sans-serif", 20),
    )?;
    let (left, right) = root.split_horizontally(640);
    panel(&left, "the whole bill", runs, &series, total)?;
    panel(
        &right,
        "without WebSocket messages and their transfer (the same in both designs)",
        runs,
        &series,
        without_messages,
    )?;
    root.present()?;
    Ok(())
}
