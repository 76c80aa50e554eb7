//! Cold start of every function, measured under the Runtime API emulator:
//!
//! ```sh
//! scripts/with-moto cargo run --release -p banter-runtime-emulator --example cold-start \
//!   [-- --runs 20] [--only health,auth]
//! ```
//!
//! It builds the release x86_64 binaries of every function of `template.yaml` and the `hello`
//! floor (`cargo build --release`), then spawns each one `--runs` times (default 20), each
//! time a fresh process with a fresh Runtime API that already holds one invocation (the
//! function's probe sample, see `probe_sample`), and prints the medians of
//! **spawn → first `GET /next`** (Lambda's init phase) and **spawn → first response** (init
//! plus one invocation, storage on moto), and each binary's size.
//!
//! The functions store their data on a moto server (`BANTER_TEST_AWS_ENDPOINT`, as
//! `scripts/test` and `scripts/with-moto` set it).
//! moto is a Python process, so "first response" includes its latency; the init column
//! touches nothing but the process itself.

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "cold_start/report.rs"]
mod report;

use std::path::Path;
use std::time::Duration;

use banter_runtime_emulator::{FunctionConfig, Outcome, Output, RuntimeApi, Sandbox};
use support::{Profile, Template, World};

/// Spawns per function unless `--runs N` says otherwise.
const DEFAULT_RUNS: usize = 20;

/// One spawn's timings.
struct Run {
    to_next: Duration,
    to_response: Option<Duration>,
    status: Option<String>,
}

/// The status of a response, or why it is not one.
fn status_of(outcome: &Outcome) -> String {
    match outcome.json() {
        Ok(json) if outcome.is_response() => json["statusCode"].as_u64().map_or_else(
            || match json["batchItemFailures"].as_array() {
                Some(f) if f.is_empty() => "batch ok".to_owned(),
                Some(f) => format!("{} failed", f.len()),
                None => "response".to_owned(),
            },
            |s| s.to_string(),
        ),
        _ => format!("error: {}", String::from_utf8_lossy(outcome.body())),
    }
}

/// Spawns `bootstrap` once, with `payload` queued before the spawn.
async fn run_once(
    bootstrap: &Path,
    config: FunctionConfig,
    payload: Option<Vec<u8>>,
) -> Result<Run, String> {
    let timeout = config.timeout;
    let api = RuntimeApi::start(config).await.map_err(|e| e.to_string())?;
    let pending = payload.map(|p| api.enqueue(p));
    let mut sandbox = Sandbox::spawn(api, bootstrap, Output::Capture).map_err(|e| e.to_string())?;
    let result = async {
        let to_next = sandbox
            .ready(Duration::from_secs(10))
            .await
            .map_err(|e| e.to_string())?;
        let (to_response, status) = match &pending {
            Some(p) => {
                let outcome = sandbox.wait(p, timeout).await.map_err(|e| e.to_string())?;
                (sandbox.time_to_first_outcome(), Some(status_of(&outcome)))
            }
            None => (None, None),
        };
        Ok(Run {
            to_next,
            to_response,
            status,
        })
    }
    .await;
    let logs = sandbox.shutdown().await;
    result.map_err(|e: String| format!("{e}\n{}", logs.join("\n")))
}

/// The median of `values` (sorted in place).
fn median(values: &mut [Duration]) -> Option<Duration> {
    values.sort();
    values.get(values.len() / 2).copied()
}

/// Milliseconds with one decimal.
fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse::<usize>().unwrap_or(DEFAULT_RUNS))
        .unwrap_or(DEFAULT_RUNS)
        .max(1);
    let Ok(endpoint) = std::env::var("BANTER_TEST_AWS_ENDPOINT") else {
        eprintln!(
            "cold-start: BANTER_TEST_AWS_ENDPOINT is not set. The functions need their tables \
             and queue on a moto server: run this through scripts/with-moto."
        );
        std::process::exit(2);
    };

    let template = Template::load();
    // `--only a,b`: just these functions (and the floor), e.g. after changing their init.
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|list| list.split(',').map(str::to_owned).collect());
    let wanted = |binary: &str| only.as_ref().is_none_or(|o| o.iter().any(|b| b == binary));
    let functions: Vec<(String, String)> = template
        .functions
        .iter()
        .filter(|f| wanted(&f.binary))
        .map(|f| (f.binary.clone(), f.logical_id.clone()))
        .collect();
    let dir = support::cargo_build(&functions, Profile::Release, &["banter-runtime-emulator"]);
    let world = World::create(&endpoint, &template).await;
    world.seed().await;
    world.seed_sample_connection().await;

    // (name, bootstrap, config, probe sample)
    let mut targets = vec![(
        "hello (floor)".to_owned(),
        support::find_in(&dir, "hello", "hello").expect("the hello binary was built"),
        FunctionConfig::new("hello"),
        Some(("(any event)".to_owned(), "{}".to_owned())),
    )];
    for f in template
        .functions_in_run_order()
        .into_iter()
        .filter(|f| wanted(&f.binary))
    {
        let bootstrap = support::find_in(&dir, &f.binary, &f.logical_id)
            .unwrap_or_else(|| panic!("{} was not built in {}", f.binary, dir.display()));
        let config = FunctionConfig::new(format!("banter-bench-{}", f.logical_id))
            .memory_mb(f.memory_mb)
            .timeout(f.timeout)
            .envs(world.env_for(&f));
        let probe = support::probe_sample(&f.binary).and_then(|name| {
            support::samples_for(&f.binary)
                .into_iter()
                .find(|(n, _)| n == name)
        });
        targets.push((f.binary.clone(), bootstrap, config, probe));
    }

    println!(
        "\nCold start under the Runtime API emulator: release x86_64, {runs} spawns each, \
         medians (min–max).\n"
    );
    println!(
        "| function | size (stripped) | spawn → first /next (ms) | spawn → first response (ms) | probe | statuses |"
    );
    println!("|---|---:|---:|---:|---|---|");
    let mut rows = Vec::new();
    for (name, bootstrap, config, probe) in targets {
        let size = std::fs::metadata(&bootstrap).map(|m| m.len()).unwrap_or(0);
        let mut to_next = Vec::new();
        let mut to_response = Vec::new();
        let mut statuses: Vec<String> = Vec::new();
        for _ in 0..runs {
            let payload = match &probe {
                Some((_, text)) => Some(world.substitute_tokens(text).await.into_bytes()),
                None => None,
            };
            match run_once(&bootstrap, config.clone(), payload).await {
                Ok(run) => {
                    to_next.push(run.to_next);
                    to_response.extend(run.to_response);
                    if let Some(s) = run.status.filter(|s| !statuses.contains(s)) {
                        statuses.push(s);
                    }
                }
                Err(e) => {
                    eprintln!("{name}: {e}");
                    break;
                }
            }
        }
        let range = |v: &mut Vec<Duration>| match (median(v), v.first(), v.last()) {
            (Some(m), Some(lo), Some(hi)) => format!("{} ({}–{})", ms(m), ms(*lo), ms(*hi)),
            _ => "n/a".to_owned(),
        };
        println!(
            "| {name} | {:.1} MB | {} | {} | {} | {} |",
            size as f64 / 1_048_576.0,
            range(&mut to_next),
            range(&mut to_response),
            probe.as_ref().map_or("-", |(n, _)| n.as_str()),
            statuses.join(", "),
        );
        rows.push(report::Row {
            function: name,
            size_bytes: size,
            probe: probe.map(|(n, _)| n),
            statuses,
            to_next_ms: to_next.iter().map(|d| d.as_secs_f64() * 1e3).collect(),
            to_response_ms: to_response.iter().map(|d| d.as_secs_f64() * 1e3).collect(),
        });
    }
    let dir = support::repo_root().join("bench").join("results");
    // A partial run (`--only`) does not replace the full results.
    let stem = if only.is_some() {
        "cold-start-partial"
    } else {
        "cold-start"
    };
    match report::write(&dir, stem, runs, &rows) {
        Ok((json, svg)) => println!("\nwrote {} and {}", json.display(), svg.display()),
        Err(e) => {
            eprintln!("cold-start: cannot write the results: {e}");
            std::process::exit(1);
        }
    }
}
