//! `banter-local`: runs Banter's stack on localhost. See `--help` and the crate documentation.

use std::process::ExitCode;
use std::time::Instant;

use banter_local::cli::Cli;
use banter_local::{Gateway, QueueBackend, RunningGateway, Storage, TemplateSource};

#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    // Listen for Ctrl-C / SIGTERM from the start, so a signal during start-up is not lost.
    let stop = match stop_signal() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("banter-local: cannot listen for signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    // `--help` and bad flags: clap prints them and exits (0 and 2).
    let cli = Cli::from_process().unwrap_or_else(|e| e.exit());
    banter_local::logging::init(cli.log_json);
    if cli.check_only {
        return check(&cli.config.template);
    }
    let gateway = match Gateway::start(cli.config.clone()).await {
        Ok(g) => g,
        Err(e) => {
            eprintln!("banter-local: {e}");
            return ExitCode::FAILURE;
        }
    };
    banner(&gateway, &cli, started.elapsed());
    stop.await;
    eprintln!("\nbanter-local: stopping…");
    gateway.shutdown().await;
    ExitCode::SUCCESS
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM; the handlers are installed when this is called.
#[cfg(unix)]
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// `--check`: checks the template against the handlers and exits.
fn check(source: &TemplateSource) -> ExitCode {
    let parsed = match source {
        TemplateSource::Path(p) => banter_local::template::Deployment::load(p),
        TemplateSource::Text(t) => banter_local::template::Deployment::parse(t),
    };
    let template = match parsed {
        Ok(t) => t,
        Err(e) => {
            eprintln!("banter-local: {e}");
            return ExitCode::FAILURE;
        }
    };
    match banter_local::template::check(&template) {
        Ok(()) => {
            println!(
                "template OK: {} HTTP routes, {} WebSocket routes, {} SQS event source(s), \
                 every one with a handler",
                template.http_routes.len(),
                template.websocket_api().map_or(0, |w| w.routes.len()),
                template.event_sources.len()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("template.yaml cannot be served locally:");
            for e in errors {
                eprintln!("  - {e}");
            }
            ExitCode::FAILURE
        }
    }
}

fn banner(g: &RunningGateway, cli: &Cli, elapsed: std::time::Duration) {
    let c = &cli.config;
    let storage = match (&c.storage, &c.aws_endpoint) {
        (Storage::Memory, _) => "in memory".to_owned(),
        (Storage::DynamoDb { table_prefix, .. }, endpoint) => format!(
            "DynamoDB tables {table_prefix}-* at {}",
            endpoint.as_deref().unwrap_or("AWS")
        ),
    };
    let describe = |handle: &banter_local::QueueHandle| match (handle, &c.queue) {
        (_, QueueBackend::Memory) => "in memory".to_owned(),
        (banter_local::QueueHandle::Sqs { queue_url, .. }, _) => format!("SQS {queue_url}"),
        _ => "SQS".to_owned(),
    };
    let queue = describe(g.queue());
    let rest = g.rest_url();
    let ws = g.ws_url();
    println!();
    println!("  Banter local stack ready in {} ms", elapsed.as_millis());
    println!();
    println!("  Demo page       {rest}/");
    println!("  HTTP API        {rest}/v1/...        (try {rest}/v1/health)");
    println!("  WebSocket API   {ws}/?token=<access_token>");
    println!(
        "  Management API  {}/@connections/{{id}}",
        g.management_endpoint()
    );
    println!("  Storage         {storage}");
    println!(
        "  Fan-out queue   {queue} (visibility {:?}, maxReceiveCount {})",
        g.visibility_timeout(),
        g.max_receive_count()
            .map_or("none".to_owned(), |n| n.to_string())
    );
    if let Some(shards) = g.shard_queue() {
        println!(
            "  Shard queue     {} ({} environments)",
            describe(shards),
            c.shard_pollers
        );
    }
    println!(
        "  Limits          idle {:?}, max connection {:?}, frame {} B, message {} B",
        c.limits.idle_timeout,
        c.limits.max_connection,
        c.limits.max_frame_bytes,
        c.limits.max_message_bytes
    );
    if !c.limits.post_latency.is_zero() {
        println!(
            "  Post latency    {:?} per management API POST",
            c.limits.post_latency
        );
    }
    if let Some(s) = g.seeded() {
        println!();
        println!(
            "  Seeded: users {} and {} (password {}), live event {}, conversation {}",
            s.username,
            s.friend_username,
            banter_local::seed::DEMO_PASSWORD,
            s.event_id,
            s.conversation_id
        );
        println!("  Access token of {}: {}", s.username, s.access_token);
        println!(
            "  Try:  curl {rest}/v1/events/{}/comments -H 'authorization: Bearer <token>'",
            s.event_id
        );
        println!(
            "        websocat '{ws}/?token=<token>&event_id={}'",
            s.event_id
        );
    } else {
        println!();
        println!(
            "  No data yet: restart with --seed for a demo user, a live event and a conversation."
        );
    }
    println!();
    println!("  Ctrl-C stops.");
    println!();
}
