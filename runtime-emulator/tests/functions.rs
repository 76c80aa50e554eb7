//! Every function binary runs as a real Lambda process: each `bootstrap` (debug build, or the
//! builds in `BANTER_BOOTSTRAP_DIR`) is spawned under the Runtime API emulator with Lambda's
//! environment and its `template.yaml` variables, stores its data on the moto server
//! (`BANTER_TEST_AWS_ENDPOINT`, required), posts frames to a management endpoint served here,
//! and is fed every one of its `events/*.json` samples. Every answer must be a well-formed
//! Lambda response (an API Gateway proxy response with a 2xx `statusCode`, or an SQS batch
//! response without failures), and the samples must have their real effect: sign-up and
//! sign-in succeed, `$connect` stores the connection, a `$default` ping is answered with a
//! pong, `$disconnect` removes the connection, and the fan-out posts to subscribers.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use banter::ids::ConnectionId;
use banter_runtime_emulator::{EmulatorError, FunctionConfig, Outcome, Output, Sandbox};
use serde_json::Value;
use support::{Profile, Template, World, ids};

/// How long a function may take to reach its first `GET /next` (debug builds, busy CI).
const INIT_TIMEOUT: Duration = Duration::from_secs(30);

/// A sample's answer, read back.
#[derive(Debug)]
struct Answer {
    /// `statusCode` of a proxy response; `None` for an SQS batch response.
    status: Option<u16>,
    /// The response document.
    json: Value,
}

impl Answer {
    /// The proxy response's `body`, parsed as JSON (`Null` when empty or not JSON).
    fn body(&self) -> Value {
        self.json["body"]
            .as_str()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null)
    }

    /// A proxy response header, by lowercase name.
    fn header(&self, name: &str) -> Option<&str> {
        self.json["headers"]
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }
}

/// Checks that `outcome` is a well-formed Lambda response for a sample of this kind.
fn read_answer(name: &str, outcome: &Outcome) -> Result<Answer, String> {
    let Outcome::Response(body) = outcome else {
        return Err(format!(
            "the function failed the invocation: {}",
            String::from_utf8_lossy(outcome.body())
        ));
    };
    let json: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the response is not JSON ({e}): {}",
            String::from_utf8_lossy(body)
        )
    })?;
    if name.starts_with("media-") {
        // The media function's summary: the sample's upload is a real PNG, accepted.
        if json["ready"] != 1 || json["rejected"] != 0 {
            return Err(format!("the sample upload was not accepted: {json}"));
        }
        return Ok(Answer { status: None, json });
    }
    if name.starts_with("fanout-") {
        let failures = json["batchItemFailures"]
            .as_array()
            .ok_or_else(|| format!("not an SQS batch response: {json}"))?;
        if !failures.iter().all(|f| f["itemIdentifier"].is_string()) {
            return Err(format!("malformed batchItemFailures: {json}"));
        }
        return Ok(Answer { status: None, json });
    }
    let status = json["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..=599).contains(s))
        .ok_or_else(|| format!("no valid statusCode: {json}"))?;
    if !(json["headers"].is_null() || json["headers"].is_object()) {
        return Err(format!("headers is not an object: {json}"));
    }
    if !(json["body"].is_null() || json["body"].is_string()) {
        return Err(format!("body is not a string: {json}"));
    }
    if !(json["isBase64Encoded"].is_null() || json["isBase64Encoded"].is_boolean()) {
        return Err(format!("isBase64Encoded is not a boolean: {json}"));
    }
    let answer = Answer {
        status: Some(status),
        json,
    };
    if name.starts_with("http-") {
        if answer.header("x-request-id").is_none() {
            return Err(format!("no X-Request-ID: {}", answer.json));
        }
        let text = answer.json["body"].as_str().unwrap_or_default();
        let is_json = answer
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"));
        if is_json && !text.is_empty() && answer.body().is_null() {
            return Err(format!("the JSON body does not parse: {text}"));
        }
    }
    if !(200..300).contains(&status) {
        return Err(format!("status {status}: {}", answer.json));
    }
    Ok(answer)
}

/// What the sample must have done beyond answering 2xx; `Err` says what is missing.
async fn check_effect(
    world: &World,
    name: &str,
    answer: &Answer,
    calls_before: usize,
) -> Result<(), String> {
    let connection: ConnectionId = ids::CONNECTION.parse().map_err(|e| format!("{e:?}"))?;
    let stored = || async {
        world
            .app
            .stores
            .connections
            .get_connection(&connection)
            .await
            .map_err(|e| format!("reading the connection: {e}"))
    };
    let frames = world.management.frames_to(ids::CONNECTION, calls_before);
    if name.starts_with("ws-default-") {
        if let Some(error) = frames.iter().find(|f| f["type"] == "error") {
            return Err(format!("the caller got an error frame: {error}"));
        }
    }
    match name {
        "http-health-get.json" if answer.body()["status"] != "ok" => {
            Err(format!("health is not ok: {}", answer.json))
        }
        "http-auth-register.json" if answer.status != Some(201) => {
            Err(format!("sign-up did not create the user: {}", answer.json))
        }
        "http-auth-login.json" if !answer.body()["access_token"].is_string() => {
            Err(format!("sign-in returned no access token: {}", answer.json))
        }
        n if n.starts_with("ws-connect") => match stored().await? {
            Some(c) if c.user_id().is_some_and(|u| u.to_string() == ids::WS_USER) => Ok(()),
            other => Err(format!("$connect did not store the connection: {other:?}")),
        },
        "ws-default-ping.json" if !frames.iter().any(|f| f["type"] == "pong") => Err(format!(
            "no pong was posted to the caller; frames: {frames:?}"
        )),
        "ws-disconnect.json" => match stored().await? {
            None => Ok(()),
            Some(c) => Err(format!("$disconnect left the connection: {c:?}")),
        },
        n if n.starts_with("fanout-") => check_fanout(world, answer, calls_before).await,
        n if n.starts_with("media-") => check_media(world).await,
        _ => Ok(()),
    }
}

/// The media sample's upload: its item `ready` with the PNG's dimensions, and its checked
/// file and thumbnail in the bucket.
async fn check_media(world: &World) -> Result<(), String> {
    use banter_testkit::samples::{id, ids};
    let file: banter::ids::FileId = id(ids::UPLOAD);
    let item = world
        .app
        .stores
        .media
        .get_media(file)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no media item")?;
    if item.processing_status != banter::model::ProcessingStatus::Ready
        || item.dimensions.map(|d| (d.width, d.height)) != Some((40, 30))
        || !item.has_thumbnail
    {
        return Err(format!(
            "the upload was not settled as a ready 40 x 30 image: {item:?}"
        ));
    }
    for key in [
        banter::model::media::file_key(file),
        banter::model::media::thumbnail_key(file),
    ] {
        let found = world
            .app
            .objects
            .get(&key, 1)
            .await
            .map_err(|e| e.to_string())?;
        if found.is_none() {
            return Err(format!("{key} is not in the bucket"));
        }
    }
    Ok(())
}

/// A fan-out batch: no failed record, a frame posted to the live subscriber, and the gone
/// subscriber removed from the store.
async fn check_fanout(world: &World, answer: &Answer, calls_before: usize) -> Result<(), String> {
    let failures = &answer.json["batchItemFailures"];
    if failures.as_array().is_some_and(|f| !f.is_empty()) {
        return Err(format!("records failed: {failures}"));
    }
    let posted = world.management.frames_to(ids::FANOUT_LIVE, calls_before);
    if posted.is_empty() {
        return Err("nothing was posted to the subscribed connection".into());
    }
    let gone: ConnectionId = ids::FANOUT_GONE.parse().map_err(|e| format!("{e:?}"))?;
    let left = world
        .app
        .stores
        .connections
        .get_connection(&gone)
        .await
        .map_err(|e| format!("reading the gone connection: {e}"))?;
    if left.is_some() {
        return Err("the connection the endpoint reported gone was not removed".into());
    }
    Ok(())
}

/// One line of the report.
struct Row {
    function: String,
    sample: String,
    result: String,
    millis: f64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_binary_serves_its_samples_as_a_lambda_process() {
    let endpoint = support::moto_endpoint();
    let template = Template::load();

    // Every sample belongs to exactly one function, and every function has samples.
    let samples = support::all_sample_names();
    for sample in &samples {
        let owners: Vec<&str> = template
            .functions
            .iter()
            .filter(|f| support::sample_belongs_to(sample, &f.binary))
            .map(|f| f.binary.as_str())
            .collect();
        assert_eq!(
            owners.len(),
            1,
            "events/{sample} must belong to exactly one function, not {owners:?}"
        );
    }

    let functions: Vec<(String, String)> = template
        .functions
        .iter()
        .map(|f| (f.binary.clone(), f.logical_id.clone()))
        .collect();
    let bootstraps = support::bootstraps(&functions, Profile::Debug);

    let started = Instant::now();
    let world = World::create(&endpoint, &template).await;
    world.seed().await;

    let mut rows: Vec<Row> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut cold_starts: BTreeMap<String, Duration> = BTreeMap::new();
    for function in template.functions_in_run_order() {
        let name = &function.binary;
        let samples = support::samples_for(name);
        assert!(!samples.is_empty(), "{name} has no sample in events/");
        let bootstrap: &Path = &bootstraps[name];
        let config = FunctionConfig::new(format!("banter-test-{}", function.logical_id))
            .memory_mb(function.memory_mb)
            .timeout(function.timeout)
            .envs(world.env_for(&function));
        let mut sandbox = Sandbox::start(bootstrap, config, Output::Capture)
            .await
            .unwrap_or_else(|e| panic!("{name}: cannot start {}: {e}", bootstrap.display()));
        match sandbox.ready(INIT_TIMEOUT).await {
            Ok(cold) => {
                cold_starts.insert(name.clone(), cold);
            }
            Err(e) => {
                failures.push(format!("{name}: init failed: {e}"));
                let logs = sandbox.shutdown().await;
                failures.push(format!("{name} output:\n{}", logs.join("\n")));
                continue;
            }
        }

        let mut batches: Vec<(String, String)> = samples;
        for i in 0.. {
            if name == "fanout" && i == batches.len() {
                // Then every broadcast the functions above really enqueued, as the event
                // source mapping would deliver it.
                world.seed_fanout_subscribers().await;
                if let Some(batch) = world.queued_batch().await {
                    batches.push(("fanout-queued-jobs (live)".into(), batch.to_string()));
                }
            }
            let Some((sample, text)) = batches.get(i).cloned() else {
                break;
            };
            let payload = world.substitute_tokens(&text).await;
            let calls_before = world.management.call_count();
            let t = Instant::now();
            let outcome = sandbox.invoke(payload.into_bytes()).await;
            let millis = t.elapsed().as_secs_f64() * 1e3;
            let checked = match &outcome {
                Ok(outcome) => match read_answer(&sample, outcome) {
                    Ok(answer) => check_effect(&world, &sample, &answer, calls_before)
                        .await
                        .map(|()| {
                            answer
                                .status
                                .map_or("batch ok".to_owned(), |s| s.to_string())
                        }),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e.to_string()),
            };
            let result = match checked {
                Ok(summary) => summary,
                Err(e) => {
                    failures.push(format!("{name} / {sample}: {e}"));
                    "FAILED".into()
                }
            };
            rows.push(Row {
                function: name.clone(),
                sample,
                result,
                millis,
            });
            if matches!(outcome, Err(EmulatorError::Exited { .. })) {
                break;
            }
        }
        let logs = sandbox.shutdown().await;
        if failures.iter().any(|f| f.starts_with(&format!("{name} /"))) {
            failures.push(format!("{name} output:\n{}", logs.join("\n")));
        }
    }

    eprintln!("\nfunction        sample                                   result    ms");
    for r in &rows {
        eprintln!(
            "{:<15} {:<40} {:<8} {:>6.1}",
            r.function, r.sample, r.result, r.millis
        );
    }
    eprintln!("\ncold start (debug build, spawn to first GET /next):");
    for (name, d) in &cold_starts {
        eprintln!("  {name:<15} {:>7.1} ms", d.as_secs_f64() * 1e3);
    }
    eprintln!(
        "\n{} invocations of {} functions in {:.1} s (after the build)",
        rows.len(),
        cold_starts.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
    assert_eq!(
        cold_starts.len(),
        template.functions.len(),
        "every function must start"
    );
}

/// The emulator itself, with the `hello` floor of this crate: responses, handler errors, the
/// cold start, and a process that exits instead of serving.
#[tokio::test]
async fn hello_runs_under_the_emulator() {
    let hello = Path::new(env!("CARGO_BIN_EXE_hello"));
    let config = FunctionConfig::new("hello").env("RUST_LOG", "info");
    let mut sandbox = Sandbox::start(hello, config, Output::Capture)
        .await
        .expect("start hello");
    let cold = sandbox.ready(INIT_TIMEOUT).await.expect("hello starts");
    assert_eq!(sandbox.cold_start(), Some(cold));
    let mut ids = Vec::new();
    for _ in 0..3 {
        let outcome = sandbox.invoke(b"{}".to_vec()).await.expect("invoke hello");
        let json = outcome.json().expect("JSON");
        assert_eq!(json["message"], "hello");
        ids.push(json["request_id"].as_str().expect("request id").to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "every invocation has its own request id");
    let recorded: Vec<String> = sandbox
        .api()
        .outcomes()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(recorded, ids);

    let failed = sandbox
        .invoke(br#"{"fail": true}"#.to_vec())
        .await
        .expect("an outcome");
    assert!(!failed.is_response());
    assert!(
        String::from_utf8_lossy(failed.body()).contains("asked to fail"),
        "{failed:?}"
    );
    // The process keeps serving after a handler error.
    assert!(
        sandbox
            .invoke(b"{}".to_vec())
            .await
            .expect("invoke")
            .is_response()
    );
    sandbox.shutdown().await;

    // A bootstrap that exits at once is reported as such, not as a timeout.
    let mut sandbox = Sandbox::start(
        Path::new("/bin/false"),
        FunctionConfig::new("false"),
        Output::Capture,
    )
    .await
    .expect("spawn /bin/false");
    let err = sandbox
        .ready(INIT_TIMEOUT)
        .await
        .expect_err("it never asks for an event");
    assert!(matches!(err, EmulatorError::Exited { .. }), "{err}");
}
