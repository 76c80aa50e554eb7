//! `docs/cost.md`, generated from the benchmark's JSON: dollars per million comments for
//! Banter and the naive design (computed here by [`model`](super::model) from the counts),
//! the counts per comment behind them, the setup cost per connection, the prices with their
//! date and sources, and how everything was counted.

use serde_json::Value;
use std::fmt::Write as _;

use super::model::{self, Costs, component};
use super::phase::Phase;
use super::results::{AudienceRun, CostResults};

/// `1234567.8` → `1,234,568`.
fn thousands(x: f64) -> String {
    let negative = x < 0.0;
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if negative { format!("-{out}") } else { out }
}

/// A count: whole numbers plain, small fractions with three significant digits.
pub fn num(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if (x - x.round()).abs() < 1e-9 || x.abs() >= 100.0 {
        thousands(x)
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        let decimals = (-x.abs().log10()).ceil() as usize + 2;
        format!("{x:.decimals$}")
    }
}

/// Dollars, with cents from $1 up and three significant digits below.
pub fn dollars(x: f64) -> String {
    if x.abs() >= 1000.0 {
        format!("${}", thousands(x))
    } else if x.abs() >= 1.0 {
        format!("${x:.2}")
    } else {
        format!("${}", num(x))
    }
}

fn header(out: &mut String, first: &str, runs: &[AudienceRun]) {
    let _ = write!(out, "| {first} |");
    for r in runs {
        let _ = write!(out, " {} |", thousands(r.audience as f64));
    }
    out.push_str("\n|---|");
    for _ in runs {
        out.push_str("---:|");
    }
    out.push('\n');
}

fn row(out: &mut String, name: &str, runs: &[AudienceRun], f: impl Fn(&AudienceRun) -> String) {
    let _ = write!(out, "| {name} |");
    for r in runs {
        let _ = write!(out, " {} |", f(r));
    }
    out.push('\n');
}

/// Every (operation, table) of the DynamoDB rows of `phase` over the runs, in first-seen
/// order.
fn dynamo_keys<'a>(
    runs: &'a [AudienceRun],
    phase: impl Fn(&'a AudienceRun) -> &'a Phase,
) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in runs {
        for d in &phase(r).dynamodb {
            let k = (d.operation.clone(), d.table.clone());
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys
}

fn counts_table(out: &mut String, runs: &[AudienceRun]) {
    header(out, "per comment", runs);
    let p = |r: &AudienceRun| r.per_comment.clone();
    row(out, "DynamoDB requests", runs, |r| {
        num(p(r).dynamodb_total().requests)
    });
    row(out, "… read request units (RRU)", runs, |r| {
        num(p(r).dynamodb_total().read_units)
    });
    row(
        out,
        "… of which reading the audience (Query `connections`)",
        runs,
        |r| {
            num(p(r)
                .dynamodb
                .iter()
                .filter(|d| d.operation == "Query" && d.table == "connections")
                .map(|d| d.count.read_units)
                .sum())
        },
    );
    row(out, "… write request units (WRU, tables)", runs, |r| {
        num(p(r).dynamodb_total().write_units)
    });
    row(out, "… write request units (WRU, indexes)", runs, |r| {
        num(p(r).dynamodb_total().index_write_units)
    });
    row(
        out,
        "SQS requests (billed, empty receives excluded)",
        runs,
        |r| num(p(r).sqs_work_total().billed_requests),
    );
    row(out, "SQS empty receives (polling; excluded)", runs, |r| {
        num(p(r).sqs_empty_receives())
    });
    let mut functions: Vec<String> = Vec::new();
    for r in runs {
        for l in &r.per_comment.lambda {
            if !functions.contains(&l.function) {
                functions.push(l.function.clone());
            }
        }
    }
    for f in &functions {
        row(out, &format!("Lambda `{f}`: invocations"), runs, |r| {
            num(p(r).invocations_of(f))
        });
        row(
            out,
            &format!("Lambda `{f}`: ms billed (sum per comment)"),
            runs,
            |r| {
                num(p(r)
                    .lambda
                    .iter()
                    .filter(|l| &l.function == f)
                    .map(|l| l.count.billed_ms)
                    .sum())
            },
        );
        row(
            out,
            &format!("Lambda `{f}`: median / longest invocation, ms"),
            runs,
            |r| {
                p(r).lambda
                    .iter()
                    .find(|l| &l.function == f)
                    .map_or("–".into(), |l| {
                        format!("{:.1} / {:.1}", l.count.median_ms, l.count.max_ms)
                    })
            },
        );
    }
    row(out, "PostToConnection calls (delivered)", runs, |r| {
        num(p(r).posts_total().delivered)
    });
    row(out, "… failed (retried or gone)", runs, |r| {
        num(p(r).posts_total().failed)
    });
    row(out, "… bytes per call", runs, |r| {
        let t = p(r).posts_total();
        if t.delivered > 0.0 {
            num((t.bytes / t.delivered).round())
        } else {
            "–".into()
        }
    });
    out.push('\n');
}

fn operations_table(out: &mut String, runs: &[AudienceRun]) {
    out.push_str("| operation | table |");
    for r in runs {
        let _ = write!(out, " {} |", thousands(r.audience as f64));
    }
    out.push_str("\n|---|---|");
    for _ in runs {
        out.push_str("---:|");
    }
    out.push('\n');
    for (op, table) in dynamo_keys(runs, |r| &r.per_comment) {
        let _ = write!(out, "| `{op}` | `{table}` |");
        for r in runs {
            let cell = r
                .per_comment
                .dynamodb
                .iter()
                .find(|d| d.operation == op && d.table == table)
                .map_or("–".into(), |d| {
                    let c = &d.count;
                    let mut s = format!("{} req", num(c.requests));
                    if c.read_units > 0.0 {
                        let _ = write!(s, ", {} RRU", num(c.read_units));
                    }
                    if c.write_units + c.index_write_units > 0.0 {
                        let _ = write!(s, ", {} WRU", num(c.write_units + c.index_write_units));
                    }
                    s
                });
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str("| SQS operation | queue |");
    for r in runs {
        let _ = write!(out, " {} |", thousands(r.audience as f64));
    }
    out.push_str("\n|---|---|");
    for _ in runs {
        out.push_str("---:|");
    }
    out.push('\n');
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in runs {
        for s in &r.per_comment.sqs {
            let k = (s.operation.clone(), s.queue.clone());
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    for (op, queue) in keys {
        let _ = write!(out, "| `{op}` | `{queue}` |");
        for r in runs {
            let cell = r
                .per_comment
                .sqs
                .iter()
                .find(|s| s.operation == op && s.queue == queue)
                .map_or("–".into(), |s| {
                    format!(
                        "{} req, {} msg",
                        num(s.count.requests),
                        num(s.count.messages)
                    )
                });
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out.push('\n');
}

fn breakdown_table(out: &mut String, runs: &[AudienceRun], pick: impl Fn(&AudienceRun) -> &Costs) {
    header(out, "per million comments", runs);
    for c in component::ALL {
        row(out, c, runs, |r| dollars(pick(r).of(c) * 1e6));
    }
    row(out, "**total**", runs, |r| {
        format!("**{}**", dollars(pick(r).per_million()))
    });
    out.push('\n');
}

/// Picks one phase of a run.
type PhaseOf = fn(&AudienceRun) -> Option<&Phase>;

fn setup_table(out: &mut String, results: &CostResults) {
    let runs = &results.runs;
    header(out, "per connection", runs);
    let phases: [(&str, PhaseOf); 2] = [
        ("`$connect` (subscribed at connect)", |r| {
            Some(&r.per_connect)
        }),
        ("`$disconnect`", |r| r.per_disconnect.as_ref()),
    ];
    for (name, phase) in phases {
        row(out, &format!("{name}: DynamoDB requests"), runs, |r| {
            phase(r).map_or("–".into(), |p| num(p.dynamodb_total().requests))
        });
        row(
            out,
            &format!("{name}: RRU / WRU (tables + indexes)"),
            runs,
            |r| {
                phase(r).map_or("–".into(), |p| {
                    let t = p.dynamodb_total();
                    format!(
                        "{} / {}",
                        num(t.read_units),
                        num(t.write_units + t.index_write_units)
                    )
                })
            },
        );
        row(out, &format!("{name}: Lambda ms billed"), runs, |r| {
            phase(r).map_or("–".into(), |p| {
                num(p.lambda.iter().map(|l| l.count.billed_ms).sum())
            })
        });
        row(
            out,
            &format!("{name}: dollars per million connections"),
            runs,
            |r| {
                phase(r).map_or("–".into(), |p| {
                    dollars(
                        model::costs(
                            p,
                            &results.functions,
                            &results.prices,
                            model::AudienceRead::Measured,
                        )
                        .per_million(),
                    )
                })
            },
        );
    }
    row(out, "connection item (`CONN/CONN`), bytes", runs, |r| {
        num(r.connection_item_bytes.round())
    });
    out.push('\n');
    out.push_str(
        "`$disconnect` is measured for the smallest audience only (its cost per connection \
         does not depend on the audience, and closing thousands of sockets at once only \
         floods moto); for the others the gateway runs without delivering it. The Lambda \
         durations here are inflated by moto: every connection's DynamoDB requests wait on \
         moto's one DynamoDB lock while the clients connect (or close) dozens at a time.\n\n",
    );
}

/// What the fan-out's duration would be if only its posts took time, beside the measured one.
fn fanout_note(out: &mut String, results: &CostResults) {
    let Some(last) = results.runs.last() else {
        return;
    };
    let fanout_ms: f64 = last
        .per_comment
        .lambda
        .iter()
        .filter(|l| l.function == "fanout")
        .map(|l| l.count.billed_ms)
        .sum();
    let posts = last.per_comment.posts_total().delivered;
    let concurrency = results.settings.fanout_concurrency.max(1) as f64;
    let floor_ms = (posts / concurrency).ceil() * results.settings.post_latency_ms;
    let per_ms = results.functions.memory_of("fanout") as f64 / 1024.0 / 1000.0
        * results
            .prices
            .per_gb_second(&results.functions.architecture)
        * 1e6;
    let _ = writeln!(
        out,
        "The durations are this machine's: the benchmark's process (gateway and handlers), \
         the audience's clients and moto share {} CPUs. At {} subscribers the fan-out's \
         posts alone, {} in flight at {} ms each, need {} ms per comment; at that duration \
         its Lambda time would cost {} per million comments instead of the measured {} ({} \
         ms).\n",
        results.machine.cpus,
        thousands(last.audience as f64),
        num(concurrency),
        num(results.settings.post_latency_ms),
        num(floor_ms.round()),
        dollars(floor_ms * per_ms),
        dollars(fanout_ms * per_ms),
        num(fanout_ms.round()),
    );
}

/// The whole document for `results` (whose dollars are recomputed from the counts), with the
/// rate dimension from the `hot_rooms` results.
pub fn markdown(results: &CostResults, hot_rooms: &[Value]) -> String {
    let mut out = String::new();
    intro_section(&mut out, results);
    dollars_section(&mut out, results);
    rate_section(&mut out, results, hot_rooms);
    counts_section(&mut out, results);
    connecting_section(&mut out, results);
    prices_section(&mut out, results);
    out.push_str(METHOD);
    out
}

/// The `hot-room-<viewers>-<rate>.json` results in `dir` (runs without injected faults), by
/// viewers then rate.
pub fn hot_rooms(dir: &std::path::Path) -> Vec<Value> {
    let mut found: Vec<Value> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.starts_with("hot-room-") && name.ends_with(".json") && !name.contains("faults")
        })
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|t| serde_json::from_str::<Value>(&t).ok())
        .collect();
    let key = |v: &Value| {
        (
            v["viewers"].as_u64().unwrap_or(0),
            (v["rate_per_second"].as_f64().unwrap_or(0.0) * 1000.0) as u64,
        )
    };
    found.sort_by_key(key);
    found
}

/// Dollars per million comments against the comment rate: the delivery's lines as each
/// hot-room run measured them (one frame per viewer per tick against one frame per change),
/// plus the write path of the nearest audience above.
fn rate_section(out: &mut String, results: &CostResults, hot_rooms: &[Value]) {
    out.push_str(
        "## By comment rate (hot room)

",
    );
    out.push_str(
        "The tables above deliver one comment at a time. In a busy room the delivery \
         coalesces: one `stream_batch` frame per viewer per tick, however many comments the \
         tick holds, so what a comment costs falls as the rate rises. Measured by \
         `cargo run --release -p banter-bench -- hot-room` (viewers on real WebSocket \
         connections, 20 ms per post, the default post budget); the delivery's lines \
         (WebSocket messages, data transfer, the fan-out's requests and duration) are priced \
         from each run; the write path (DynamoDB writes, SQS, HTTP API: the same at any rate) \
         comes from the table above, at the audience nearest below or at the run's size.\n\n",
    );
    if hot_rooms.is_empty() {
        out.push_str("No hot-room results in `bench/results/` yet.\n\n");
        return;
    }
    out.push_str(
        "| viewers | comments/s | frames | PostToConnection per comment per viewer | delivery $ | write path $ | total $ per million comments |\n|---:|---:|---|---:|---:|---:|---:|\n",
    );
    for room in hot_rooms {
        let viewers = room["viewers"].as_u64().unwrap_or(0) as usize;
        let write_path = results
            .runs
            .iter()
            .filter(|r| r.audience <= viewers.max(1))
            .max_by_key(|r| r.audience)
            .map(|r| {
                let b = &r.dollars.banter;
                (b.of(component::DYNAMODB_WRITES)
                    + b.of(component::SQS)
                    + b.of(component::HTTP_API)
                    + b.of(component::OTHER_READS))
                    * 1e6
            });
        for run in room["runs"].as_array().into_iter().flatten() {
            let r = &run["result"];
            let delivery = r["delivery_dollars_per_million_comments"]["total"].as_f64();
            let per_viewer = r["post_to_connection"]["per_comment_per_viewer"].as_f64();
            let total = delivery.zip(write_path).map(|(d, w)| d + w);
            let cell = |x: Option<f64>| x.map_or("–".to_owned(), dollars);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                num(viewers as f64),
                num(room["rate_per_second"].as_f64().unwrap_or(0.0)),
                run["frames"].as_str().unwrap_or("?"),
                per_viewer.map_or("–".to_owned(), |x| format!("{x:.3}")),
                cell(delivery),
                cell(write_path),
                cell(total),
            );
        }
    }
    out.push('\n');
}

/// The title, the generated-file notice and what the figures are.
fn intro_section(out: &mut String, results: &CostResults) {
    let runs = &results.runs;
    let p = &results.prices;
    out.push_str("# Cost per comment\n\n");
    out.push_str(
        "<!-- Generated by `cargo run --release -p banter-bench -- cost --report` from \
         `bench/results/cost.json`. Change `bench/src/cost/report.rs`, not this file. -->\n\n",
    );
    let _ = writeln!(
        out,
        "What one live comment costs on AWS when it is delivered to an audience of {} \
         WebSocket clients: every DynamoDB request (with the read and write units it uses), \
         SQS request, Lambda invocation (with its duration) and `PostToConnection` call, \
         counted per comment by the cost benchmark, turned into dollars by code at the public \
         prices of {} ({}), beside the same figure for the naive design that Scans every \
         connection per message.\n",
        runs.iter()
            .map(|r| thousands(r.audience as f64))
            .collect::<Vec<_>>()
            .join(", "),
        p.checked,
        p.region,
    );
    let _ = writeln!(
        out,
        "Measured {} by `{}` ({} CPUs, {}; DynamoDB and SQS on {}; every `PostToConnection` \
         delayed {} ms to model API Gateway's round trip). Data: \
         [`bench/results/cost.json`](../bench/results/cost.json).\n",
        results.generated_at,
        results.command,
        results.machine.cpus,
        results.machine.os,
        results.settings.aws,
        num(results.settings.post_latency_ms),
    );
}

/// Dollars per million comments, by audience, and Banter line by line.
fn dollars_section(out: &mut String, results: &CostResults) {
    let runs = &results.runs;
    let p = &results.prices;
    let platform = thousands(results.platform_connections);
    out.push_str("## Dollars per million comments\n\n");
    let _ = writeln!(
        out,
        "| audience | Banter | naive, only this audience connected | naive, {platform} connections on the platform | Banter without WebSocket messages and transfer |"
    );
    out.push_str("|---:|---:|---:|---:|---:|\n");
    for r in runs {
        let b = &r.dollars.banter;
        let fixed = b.of(component::WEBSOCKET) + b.of(component::TRANSFER);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            thousands(r.audience as f64),
            dollars(b.per_million()),
            dollars(r.dollars.naive.per_million()),
            dollars(r.dollars.naive_platform.per_million()),
            dollars((b.per_comment() - fixed) * 1e6),
        );
    }
    out.push_str("\n![Cost per million comments by audience, Banter and naive](../bench/results/cost.svg)\n\n");
    if let Some(last) = runs.last() {
        let audience = thousands(last.audience as f64);
        let subscription = last
            .per_connect
            .mean_item_bytes("connections", "ROOM/<bucket>")
            .unwrap_or(0.0);
        let per_page = if last.connection_item_bytes > 0.0 {
            thousands(1024.0 * 1024.0 / last.connection_item_bytes)
        } else {
            "–".into()
        };
        let read = |c: &Costs| dollars(c.of(component::AUDIENCE_READS) * 1e6);
        let _ = writeln!(
            out,
            "Both designs post one WebSocket message per subscriber per comment, and API \
             Gateway charges ${} per million of them: ${} per subscriber per million \
             comments, the largest line of either bill. What differs is the read of the \
             audience. Banter reads only the room's subscription rows (a `Query` of the \
             room's key range, eventually consistent, {} bytes a subscriber); the naive design \
             reads the whole connections table ({} bytes a connection, a 1 MB page per {} \
             connections) on every message, so its read grows with every connection on the \
             platform, in every room, not with the comment's audience. At {audience} \
             subscribers, reading the audience costs Banter {} per million comments, the naive \
             design {} with only this audience connected and {} with {platform} connections \
             on the platform. The Scan also adds its pages to the fan-out's latency and \
             DynamoDB throughput, which a dollar figure does not show.\n",
            num(p.websocket_per_million_messages),
            num(p.websocket_per_million_messages),
            num(subscription.round()),
            num(last.connection_item_bytes.round()),
            per_page,
            read(&last.dollars.banter),
            read(&last.dollars.naive),
            read(&last.dollars.naive_platform),
        );
    }

    out.push_str("### Banter, line by line\n\n");
    breakdown_table(out, runs, |r| &r.dollars.banter);
    let _ = writeln!(
        out,
        "### Naive design, {platform} connections on the platform\n"
    );
    breakdown_table(out, runs, |r| &r.dollars.naive_platform);
}

/// Requests per comment, in all and by operation.
fn counts_section(out: &mut String, results: &CostResults) {
    let runs = &results.runs;
    out.push_str("## Counts per comment\n\n");
    out.push_str(
        "Each comment is posted over REST (`POST /v1/events/{event_id}/comments`), one at a \
         time, and awaited until every client has its broadcast; the counts are the comment \
         phase's totals divided by the number of comments. Durations are measured around \
         each handler call in the local gateway.\n\n",
    );
    counts_table(out, runs);
    fanout_note(out, results);
    out.push_str("### By operation\n\n");
    operations_table(out, runs);
    let _ = writeln!(
        out,
        "Comments per audience: {}. Broadcasts received: {} (duplicates: {}).\n",
        runs.iter()
            .map(|r| format!("{} → {}", thousands(r.audience as f64), r.comments))
            .collect::<Vec<_>>()
            .join(", "),
        runs.iter()
            .map(|r| thousands(r.broadcasts_received as f64))
            .collect::<Vec<_>>()
            .join(", "),
        runs.iter()
            .map(|r| thousands(r.duplicates as f64))
            .collect::<Vec<_>>()
            .join(", "),
    );
}

/// What connecting and disconnecting cost, apart from the comments.
fn connecting_section(out: &mut String, results: &CostResults) {
    let p = &results.prices;
    out.push_str("## Connecting and disconnecting (not in the per-comment figures)\n\n");
    setup_table(out, results);
    let _ = writeln!(
        out,
        "Connection time itself is billed too: ${:.2} per million connection minutes, so a \
         client connected for an hour costs ${} in connection minutes.\n",
        p.websocket_per_million_connection_minutes,
        num(60.0 * p.websocket_per_million_connection_minutes / 1e6),
    );
}

/// The prices used.
fn prices_section(out: &mut String, results: &CostResults) {
    let p = &results.prices;
    out.push_str("## Prices\n\n");
    let _ = writeln!(
        out,
        "Checked {}, {}, on-demand, first tier, no free tier:\n",
        p.checked, p.region
    );
    out.push_str("| item | price |\n|---|---:|\n");
    let lines = [
        (
            "DynamoDB write request unit (Standard table class)",
            format!("${} per million", p.dynamodb_per_million_wru),
        ),
        (
            "DynamoDB read request unit",
            format!("${} per million", p.dynamodb_per_million_rru),
        ),
        (
            "SQS standard request (64 KB chunk)",
            format!("${:.2} per million", p.sqs_per_million_requests),
        ),
        (
            "Lambda request",
            format!("${:.2} per million", p.lambda_per_million_requests),
        ),
        (
            "Lambda duration, arm64",
            format!("${} per GB-second", p.lambda_arm64_per_gb_second),
        ),
        (
            "API Gateway WebSocket message (32 KB)",
            format!("${:.2} per million", p.websocket_per_million_messages),
        ),
        (
            "API Gateway WebSocket connection minute",
            format!(
                "${:.2} per million",
                p.websocket_per_million_connection_minutes
            ),
        ),
        (
            "API Gateway HTTP API request (512 KB)",
            format!("${:.2} per million", p.http_api_per_million_requests),
        ),
        (
            "Data transfer out to the internet",
            format!("${:.2} per GB", p.data_transfer_out_per_gb),
        ),
    ];
    for (item, price) in lines {
        let _ = writeln!(out, "| {item} | {price} |");
    }
    out.push('\n');
    for s in &p.sources {
        let _ = writeln!(out, "- {s}");
    }
    let _ = writeln!(
        out,
        "\nFunction memory from `template.yaml` ({}): {}.\n",
        results.functions.architecture,
        results
            .functions
            .memory_mb
            .iter()
            .map(|(f, m)| format!("`{f}` {m} MB"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

const METHOD: &str = "\
## How it is counted

```sh
cargo run --release -p banter-bench -- cost                 # measure 100, 1,000 and 10,000; write the JSON, the plot and this file
cargo run --release -p banter-bench -- cost --report        # only recompute the dollars, the plot and this file from the JSON
cargo run --release -p banter-bench -- cost --help          # audiences, comments, post latency, …
```

- **The stack** is the local gateway (`banter-local`) in the benchmark's process, calling the \
same handler code as the Lambda functions, with DynamoDB storage and the SQS fan-out queue on a \
moto server started from `.venv` with `bench/moto_server.py`: the tests' `scripts/moto_server.py` \
with three of moto's DynamoDB code paths made to take time in proportion to what they touch \
instead of to the whole table (a transaction's rollback backs up only the items it names; a \
table `Query` looks only at its partition; `Query` answers are written with `json.dumps`). \
The answers are the same; without it 10,000 `$connect`s take hours. The fan-out runs with the production defaults (whole-room jobs up \
to 1,000 subscribers, shard jobs of about 1,000 above that). The audience are real WebSocket \
clients in worker processes, each its own user, subscribed to one live event at `$connect`.
- **DynamoDB and SQS requests** are counted on the wire: the SDK clients' endpoint is a proxy \
in front of moto (`bench/src/cost/meter.rs`) that classifies each request by its `X-Amz-Target` \
and computes the capacity it uses by AWS's rules from the items in the request and response \
(`bench/src/cost/accounting.rs`): reads per started 4 KB (½ when eventually consistent, the \
total of a `Query` page rounded once, each item of a `GetItem`/`BatchGetItem`), writes per \
started 1 KB of the item after the write (the proxy reads updated items back, uncounted), ×2 in \
transactions, plus the write units of every global secondary index the item is in (two when \
the write changes the index key). Moto's own `ConsumedCapacity` is not used.
- **Lambda invocations and durations** come from the gateway's counters \
(`RunningGateway::invocations`): one per handler call, timed around the call, each billed \
rounded up to the millisecond at the function's `MemorySize`. They are durations of the handler \
code on this machine against moto, without cold starts or the Lambda runtime's own overhead; \
moto's latency is not DynamoDB's, and the fan-out's posts wait the configured post latency.
- **PostToConnection calls** come from the gateway's counters (`RunningGateway::posts`) around \
the real `aws-sdk-apigatewaymanagement` client; API Gateway meters each message in 32 KB \
increments. The bytes of those messages are charged as data transfer out.
- **Phases** are separated by waiting until every counter has been still for 1.5 s; the \
per-comment figures include only what happened between the last connection and the end of \
the last comment's fan-out (including the SQS deletes of its jobs).
- **SQS polling**: the event source mapping's long polls that return nothing are not per-comment \
cost (they are a cost of time: a handful of pollers each making about three 20-second receives a \
minute) and are left out. The local event source deletes each delivered job with `DeleteMessage`; \
Lambda's own event source mapping batches deletes, so real deletes can cost fewer requests.
- **Comments one at a time**: each comment's jobs are alone in the queue (its whole-room job in \
one invocation; above 1,000 subscribers one invocation per shard job, from the shard queue). \
Under a steady stream of comments Lambda hands the fan-out batches of up to `BatchSize` jobs \
of several comments, so there are fewer, longer invocations; the posts, reads and messages per \
comment do not change.
- **The naive design** is priced from the same counts, with the read of the audience (Banter's \
`Query` of the room's subscriptions) replaced by one eventually consistent `Scan` of a \
connections table holding one item per connection of the measured connection-item size, in \
1 MB pages. It is optimistic for the naive design: the Scan's time is not added to the \
fan-out's duration, and its items are no larger than Banter's connection rows.
- **Not included**: CloudWatch Logs ingestion of the functions' logs, free tiers, volume \
tiers, connection minutes (see above), the HTTP response's data transfer, deletes' sizes \
(charged the 1-unit minimum, the item being gone) and failed-transaction nuances.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(1_234_567.4), "1,234,567");
        assert_eq!(num(3.0), "3");
        assert_eq!(num(0.012345), "0.0123");
        assert_eq!(num(2.5), "2.50");
        assert_eq!(dollars(10_000.2), "$10,000");
        assert_eq!(dollars(12.345), "$12.35");
        assert_eq!(dollars(0.0004567), "$0.000457");
    }
}
