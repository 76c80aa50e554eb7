//! The cold-start results: `bench/results/<stem>.json` (every sample, and the medians) and
//! `bench/results/<stem>.svg` (the medians as bars, the `hello` floor first).

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use serde_json::{Value, json};

/// One binary's measurements.
pub struct Row {
    /// The function's binary name, or `hello (floor)`.
    pub function: String,
    /// Size of the stripped release binary.
    pub size_bytes: u64,
    /// The sample each spawn was invoked with.
    pub probe: Option<String>,
    /// The distinct answers to it.
    pub statuses: Vec<String>,
    /// Spawn → first `GET /next`, per spawn, in ms.
    pub to_next_ms: Vec<f64>,
    /// Spawn → first response, per spawn, in ms.
    pub to_response_ms: Vec<f64>,
}

/// Median, min and max of `values`.
fn summary(values: &[f64]) -> Value {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match (v.get(v.len() / 2), v.first(), v.last()) {
        (Some(m), Some(lo), Some(hi)) => json!({
            "median": round(*m), "min": round(*lo), "max": round(*hi), "samples": v.len(),
        }),
        _ => Value::Null,
    }
}

/// `x` to 0.01.
fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The median of `values`, 0 when empty.
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Writes the JSON and the SVG into `dir`; returns their paths.
pub fn write(
    dir: &Path,
    stem: &str,
    runs: usize,
    rows: &[Row],
) -> Result<(PathBuf, PathBuf), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let json_path = dir.join(format!("{stem}.json"));
    let svg_path = dir.join(format!("{stem}.svg"));
    let doc = json!({
        "benchmark": "cold-start",
        "command": "cargo run --release -p banter-runtime-emulator --example cold-start",
        "measured_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "build": "release, x86_64, stripped (LTO, codegen-units = 1)",
        "storage": "moto server (DynamoDB, SQS) on loopback",
        "runs_per_binary": runs,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "functions": rows.iter().map(|r| json!({
            "function": r.function,
            "size_bytes": r.size_bytes,
            "probe": r.probe,
            "statuses": r.statuses,
            "spawn_to_first_next_ms": summary(&r.to_next_ms),
            "spawn_to_first_response_ms": summary(&r.to_response_ms),
            "samples": {
                "spawn_to_first_next_ms": r.to_next_ms.iter().map(|x| round(*x)).collect::<Vec<_>>(),
                "spawn_to_first_response_ms": r.to_response_ms.iter().map(|x| round(*x)).collect::<Vec<_>>(),
            },
        })).collect::<Vec<_>>(),
    });
    std::fs::write(&json_path, serde_json::to_string_pretty(&doc)? + "\n")?;
    plot(&svg_path, runs, rows)?;
    Ok((json_path, svg_path))
}

/// Horizontal bars: median spawn → first `/next` and spawn → first response per binary.
fn plot(path: &Path, runs: usize, rows: &[Row]) -> Result<(), Box<dyn std::error::Error>> {
    let height = 120 + 44 * rows.len() as u32;
    let root = SVGBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = rows
        .iter()
        .map(|r| median(&r.to_response_ms).max(median(&r.to_next_ms)))
        .fold(1.0_f64, f64::max)
        * 1.15;
    let n = rows.len() as i32;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Cold start under the Runtime API emulator (release x86_64, median of {runs})"),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(130)
        .build_cartesian_2d(0.0..max, (0..n).into_segmented())?;
    let labels: Vec<String> = rows.iter().map(|r| r.function.clone()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows.len() + 1)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => usize::try_from(n - 1 - *i)
                .ok()
                .and_then(|k| labels.get(k).cloned())
                .unwrap_or_default(),
            _ => String::new(),
        })
        .x_desc("milliseconds")
        .draw()?;
    // Row i (from the top) fills the middle of its segment.
    let slot = |i: usize| {
        let y = n - 1 - i as i32;
        (SegmentValue::Exact(y), SegmentValue::Exact(y + 1))
    };
    let next = BLUE.mix(0.75);
    let response = RGBColor(230, 120, 30).mix(0.75);
    chart
        .draw_series(rows.iter().enumerate().map(|(i, r)| {
            let (lo, hi) = slot(i);
            Rectangle::new([(0.0, lo), (median(&r.to_next_ms), hi)], next.filled())
        }))?
        .label("spawn → first GET /next (init)")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], next.filled()));
    chart
        .draw_series(rows.iter().enumerate().map(|(i, r)| {
            let (lo, hi) = slot(i);
            Rectangle::new(
                [(median(&r.to_next_ms), lo), (median(&r.to_response_ms), hi)],
                response.filled(),
            )
        }))?
        .label("… to first response (one invocation, moto)")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], response.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
