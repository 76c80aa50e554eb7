//! Every sample of a function, fed to it: the samples must stay servable as the API changes.

use banter::model::EventStatus;
use banter_testkit::samples::{self, id, ids};

use super::call::Call;
use super::samples::sample_names;
use super::world::{Actor, World};

/// A world holding everything the samples refer to, their event live; returns the caller, who
/// moderates (the suspension samples need one).
pub async fn sample_world() -> (World, Actor) {
    let w = World::with_config(banter::config::Config {
        moderators: [id(ids::CALLER)].into(),
        ..super::world::roomy_config()
    });
    samples::seed(&w.app, EventStatus::Live).await;
    let caller = w.actor(id(ids::CALLER));
    (w, caller)
}

/// Feeds every `events/http-<function>-*.json` to its route: as is (placeholder token: never
/// a 5xx) and signed by the caller of [`sample_world`] (a 2xx). Checks that every route in
/// `routes` has a sample and every sample names one of `routes`.
pub async fn check_samples(function: &str, routes: &[&str]) {
    let names = sample_names(&format!("http-{function}-"));
    assert!(!names.is_empty(), "no samples for {function}");
    let calls: Vec<(String, Call)> = names
        .into_iter()
        .map(|n| {
            let call = Call::sample(&n);
            (n, call)
        })
        .collect();
    for route in routes {
        assert!(
            calls.iter().any(|(_, c)| c.route_key() == *route),
            "route {route} has no sample in events/"
        );
    }
    for (name, call) in calls {
        let key = call.route_key();
        assert!(
            routes.contains(&key.as_str()),
            "{name}: unknown route {key}"
        );
        assert_eq!(
            call.event["requestContext"]["routeKey"], call.event["routeKey"],
            "{name}"
        );
        let (w, caller) = sample_world().await;
        let as_is = call.clone().send(&w).await;
        assert!(
            as_is.status < 500,
            "{name} as is: {} {}",
            as_is.status,
            as_is.body
        );
        let signed = call.by(&caller).send(&w).await;
        assert!(
            (200..300).contains(&signed.status),
            "{name} signed: {} {}",
            signed.status,
            signed.body
        );
    }
}
