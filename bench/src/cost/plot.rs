//! `bench/results/cost.svg`: dollars per million comments by audience (log–log), Banter and
//! the naive design (with only the audience connected, and with the platform's connections).

use std::path::Path;

use plotters::prelude::*;

use super::model::Costs;
use super::results::{AudienceRun, CostResults};
use crate::BoxError;

/// One line of the plot.
struct Series {
    name: String,
    color: RGBColor,
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

/// Draws the plot of `results` to `path`.
pub fn write(results: &CostResults, path: &Path) -> Result<(), BoxError> {
    let runs = &results.runs;
    if runs.is_empty() {
        return Err("no runs to plot".into());
    }
    let series = [
        Series {
            name: "Banter (Query of the room's subscriptions)".into(),
            color: RGBColor(31, 119, 180),
            pick: banter,
        },
        Series {
            name: "naive Scan, only this audience connected".into(),
            color: RGBColor(255, 127, 14),
            pick: naive,
        },
        Series {
            name: format!(
                "naive Scan, {} connections on the platform",
                super::report::num(results.platform_connections)
            ),
            color: RGBColor(214, 39, 40),
            pick: naive_platform,
        },
    ];
    let xs: Vec<f64> = runs.iter().map(|r| r.audience as f64).collect();
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| runs.iter().map(|r| (s.pick)(r).per_million()))
        .collect();
    let (x_lo, x_hi) = bounds(&xs);
    let (y_lo, y_hi) = bounds(&ys);

    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Cost per million comments by audience (AWS {}, prices of {})",
                results.prices.region, results.prices.checked
            ),
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("subscribers of the event (WebSocket clients)")
        .y_desc("US$ per million comments")
        .x_label_formatter(&|x| super::report::num(*x))
        .y_label_formatter(&|y| super::report::dollars(*y))
        .draw()?;
    for s in &series {
        let points: Vec<(f64, f64)> = runs
            .iter()
            .map(|r| (r.audience as f64, (s.pick)(r).per_million()))
            .collect();
        let color = s.color;
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(s.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
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
