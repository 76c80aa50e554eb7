//! The latency plot of a run (SVG): for each comment, the share of subscribers it had reached
//! against the time since it was sent, with the ideal bound N·t/(C·S) as a vertical line.

use std::path::Path;
use std::time::Duration;

use plotters::prelude::*;

use crate::BoxError;

/// What the plot shows.
#[derive(Debug)]
pub struct PlotInput<'a> {
    /// Title line.
    pub title: String,
    /// Per comment, the sorted delays of its receipts.
    pub latencies: &'a [Vec<Duration>],
    /// Subscribers (100 %).
    pub clients: usize,
    /// The ideal bound, when the post latency is not zero.
    pub bound: Option<Duration>,
}

/// Writes the plot to `path`.
pub fn write(path: &Path, input: &PlotInput<'_>) -> Result<(), BoxError> {
    let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
    let slowest = input
        .latencies
        .iter()
        .filter_map(|l| l.last().copied())
        .max()
        .unwrap_or_default();
    let x_max = (ms(slowest).max(input.bound.map_or(0.0, ms)) * 1.05).max(1.0);
    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(&input.title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..x_max, 0f64..100f64)?;
    chart
        .configure_mesh()
        .x_desc("ms since the comment was sent")
        .y_desc("% of subscribers reached")
        .draw()?;
    let clients = input.clients.max(1) as f64;
    for (i, l) in input.latencies.iter().enumerate() {
        // At most ~500 points per comment: the curve, not every receipt.
        let step = (l.len() / 500).max(1);
        let mut points: Vec<(f64, f64)> = vec![(l.first().map_or(0.0, |d| ms(*d)), 0.0)];
        points.extend(
            l.iter()
                .enumerate()
                .filter(|(k, _)| k % step == 0 || *k + 1 == l.len())
                .map(|(k, d)| (ms(*d), (k + 1) as f64 * 100.0 / clients)),
        );
        let series = chart.draw_series(LineSeries::new(points, BLUE.mix(0.45)))?;
        if i == 0 {
            series
                .label("one line per comment")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
        }
    }
    if let Some(bound) = input.bound {
        let x = ms(bound);
        chart
            .draw_series(LineSeries::new(
                vec![(x, 0.0), (x, 100.0)],
                RED.stroke_width(2),
            ))?
            .label(format!("ideal bound N·t/(C·S) = {x:.0} ms"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
