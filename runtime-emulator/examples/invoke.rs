//! Invokes one function with sample events as a real Lambda process, without Docker: the
//! project's own `sam local invoke`.
//!
//! ```sh
//! scripts/invoke auth events/http-auth-register.json     # starts moto, runs this, stops moto
//! # or, with a moto server of your own:
//! BANTER_TEST_AWS_ENDPOINT=http://127.0.0.1:5555 \
//!   cargo run -p banter-runtime-emulator --example invoke -- FUNCTION [EVENT.json ...] [--release]
//! ```
//!
//! `FUNCTION` is a binary (`auth`) or a logical id of `template.yaml` (`AuthFunction`). Without
//! events it feeds all of the function's `events/*.json` samples, in the order they build on
//! each other. The function runs with the environment `template.yaml` gives it (tables and
//! queue created on the moto server under a fresh prefix, seeded with the users, event,
//! comment and conversations the samples refer to; every placeholder JWT in an event is
//! replaced by a fresh token for the same user) and a management endpoint served here that
//! records what the function posts to connections.
//!
//! Each response is printed to stdout as JSON; the function's own log lines, the frames it
//! posted and the timings go to stderr. The exit status is 1 when an invocation failed.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use banter_runtime_emulator::{FunctionConfig, Outcome, Output, Sandbox};
use support::{Profile, Template, World};

/// How long the function may take to reach its first `GET /next`.
const INIT_TIMEOUT: Duration = Duration::from_secs(30);

/// The command line.
struct Args {
    function: String,
    events: Vec<PathBuf>,
    profile: Profile,
}

/// Parses the command line, or says how to use it.
fn parse_args() -> Result<Args, String> {
    let mut function = None;
    let mut events = Vec::new();
    let mut profile = Profile::Debug;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--release" => profile = Profile::Release,
            "-h" | "--help" => return Err(String::new()),
            a if a.starts_with('-') => return Err(format!("unknown flag {a}")),
            a if function.is_none() => function = Some(a.to_owned()),
            a => events.push(PathBuf::from(a)),
        }
    }
    let function = function.ok_or("which function?")?;
    Ok(Args {
        function,
        events,
        profile,
    })
}

/// Reads an event file, relative to the working directory or the repository root.
fn read_event(path: &PathBuf) -> Result<(String, String), String> {
    let candidates = [path.clone(), support::repo_root().join(path)];
    let found = candidates
        .iter()
        .find(|p| p.is_file())
        .ok_or_else(|| format!("no event file {}", path.display()))?;
    let text = std::fs::read_to_string(found)
        .map_err(|e| format!("cannot read {}: {e}", found.display()))?;
    serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| format!("{} is not JSON: {e}", found.display()))?;
    Ok((path.display().to_string(), text))
}

/// Pretty JSON of a response body, or the body as it is.
fn pretty(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(why) => {
            if !why.is_empty() {
                eprintln!("invoke: {why}");
            }
            eprintln!(
                "usage: scripts/invoke FUNCTION [EVENT.json ...] [--release]\n  \
                 FUNCTION: a binary (auth) or logical id (AuthFunction) of template.yaml"
            );
            return ExitCode::from(2);
        }
    };
    let template = Template::load();
    let Some(function) = template
        .functions
        .iter()
        .find(|f| f.binary == args.function || f.logical_id == args.function)
        .cloned()
    else {
        let known: Vec<&str> = template
            .functions
            .iter()
            .map(|f| f.binary.as_str())
            .collect();
        eprintln!(
            "invoke: no function {} in template.yaml; there are: {}",
            args.function,
            known.join(", ")
        );
        return ExitCode::from(2);
    };
    let events = if args.events.is_empty() {
        support::samples_for(&function.binary)
    } else {
        match args
            .events
            .iter()
            .map(read_event)
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(e) => e,
            Err(why) => {
                eprintln!("invoke: {why}");
                return ExitCode::from(2);
            }
        }
    };

    let endpoint = support::moto_endpoint();
    let pair = [(function.binary.clone(), function.logical_id.clone())];
    let bootstrap = support::bootstraps(&pair, args.profile)
        .remove(&function.binary)
        .expect("bootstraps returns every function it was given");
    let world = World::create(&endpoint, &template).await;
    world.seed().await;
    world.seed_sample_connection().await;
    world.seed_fanout_subscribers().await;

    let config = FunctionConfig::new(format!("banter-local-{}", function.logical_id))
        .memory_mb(function.memory_mb)
        .timeout(function.timeout)
        .envs(world.env_for(&function));
    eprintln!(
        "invoke: {} ({}), {} MB, timeout {:?}, tables {}-*",
        function.logical_id,
        bootstrap.display(),
        function.memory_mb,
        function.timeout,
        world.prefix
    );
    let mut sandbox = match Sandbox::start(&bootstrap, config, Output::Capture).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("invoke: cannot start {}: {e}", bootstrap.display());
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    match sandbox.ready(INIT_TIMEOUT).await {
        Ok(cold) => eprintln!("invoke: init (spawn to first GET /next) {cold:.1?}"),
        Err(e) => {
            eprintln!("invoke: init failed: {e}");
            failed = true;
        }
    }
    let mut printed_logs = 0;
    for (name, text) in events.iter().take(if failed { 0 } else { usize::MAX }) {
        let payload = world.substitute_tokens(text).await;
        let calls_before = world.management.call_count();
        let started = Instant::now();
        let outcome = sandbox.invoke(payload.into_bytes()).await;
        let took = started.elapsed();
        let logs = sandbox.logs();
        for line in logs.iter().skip(printed_logs) {
            eprintln!("  | {line}");
        }
        printed_logs = logs.len();
        for call in world.management.calls().iter().skip(calls_before) {
            eprintln!(
                "  > {} @connections/{} -> {}: {}",
                call.method,
                call.connection_id,
                call.status,
                String::from_utf8_lossy(&call.body)
            );
        }
        match outcome {
            Ok(Outcome::Response(body)) => {
                eprintln!("invoke: {name}: response in {took:.1?}");
                println!("{}", pretty(&body));
            }
            Ok(other) => {
                eprintln!("invoke: {name}: invocation error in {took:.1?}");
                println!("{}", pretty(other.body()));
                failed = true;
            }
            Err(e) => {
                eprintln!("invoke: {name}: {e}");
                failed = true;
                break;
            }
        }
    }
    let logs = sandbox.shutdown().await;
    for line in logs.iter().skip(printed_logs) {
        eprintln!("  | {line}");
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
