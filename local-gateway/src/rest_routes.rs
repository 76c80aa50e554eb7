//! The HTTP API's route table: the template's `HttpApi` routes compiled for matching, and the
//! match API Gateway's HTTP API makes (the most specific route wins: literal segments over
//! `{param}` over `{greedy+}`, a method over `ANY`, `$default` last).

use std::time::Duration;

use banter::functions::{Function, RestFunction};

use crate::template::{self, Deployment};
use crate::url::percent_decode;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

impl Segment {
    fn rank(&self) -> u8 {
        match self {
            Self::Literal(_) => 2,
            Self::Param(_) => 1,
            Self::Greedy(_) => 0,
        }
    }
}

#[derive(Debug, Clone)]
struct Route {
    route_key: String,
    method: Option<String>,
    segments: Vec<Segment>,
    function: RestFunction,
    timeout: Duration,
}

/// The HTTP routes of the template, compiled for matching.
#[derive(Debug, Clone, Default)]
pub(crate) struct RouteTable {
    routes: Vec<Route>,
    default: Option<Route>,
}

/// A matched route: its key, function, timeout and path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The route key (`GET /v1/events/{event_id}`).
    pub route_key: String,
    /// The function's module.
    pub function: RestFunction,
    /// Path parameters, decoded.
    pub params: Vec<(String, String)>,
    /// The function's `Timeout`.
    pub(crate) timeout: Duration,
}

fn split_path(path: &str) -> Vec<&str> {
    path.strip_prefix('/').unwrap_or(path).split('/').collect()
}

fn compile(pattern: &str) -> Vec<Segment> {
    split_path(pattern)
        .into_iter()
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => match name.strip_suffix('+') {
                    Some(greedy) => Segment::Greedy(greedy.to_owned()),
                    None => Segment::Param(name.to_owned()),
                },
                None => Segment::Literal(s.to_owned()),
            },
        )
        .collect()
}

impl RouteTable {
    /// The routes of `template` that have a REST handler (after [`crate::template::check`],
    /// all of them).
    pub(crate) fn new(template: &Deployment) -> Self {
        let mut table = Self::default();
        for r in &template.http_routes {
            let Some(Function::Rest(function)) = template::handler_of(template, &r.function) else {
                continue;
            };
            let timeout = template
                .function(&r.function)
                .map_or(template::DEFAULT_FUNCTION_TIMEOUT, |f| f.timeout);
            let route = Route {
                route_key: r.route_key.clone(),
                method: r.method.clone(),
                segments: compile(&r.path),
                function,
                timeout,
            };
            if r.route_key == "$default" {
                table.default = Some(route);
            } else {
                table.routes.push(route);
            }
        }
        table
    }

    /// The route API Gateway would pick for `method` and the raw (percent-encoded) `path`.
    pub(crate) fn find(&self, method: &str, path: &str) -> Option<Matched> {
        let parts = split_path(path);
        let mut best: Option<Candidate<'_>> = None;
        for route in &self.routes {
            let method_specific = match &route.method {
                Some(m) if m == method => true,
                Some(_) => continue,
                None => false,
            };
            let Some(params) = match_segments(&route.segments, &parts) else {
                continue;
            };
            let ranks: Vec<u8> = route.segments.iter().map(Segment::rank).collect();
            let better = match &best {
                None => true,
                Some((r, m, _, _)) => (&ranks, method_specific) > (r, *m),
            };
            if better {
                best = Some((ranks, method_specific, route, params));
            }
        }
        let (route, params) = match best {
            Some((_, _, route, params)) => (route, params),
            None => (self.default.as_ref()?, Vec::new()),
        };
        Some(Matched {
            route_key: route.route_key.clone(),
            function: route.function,
            params,
            timeout: route.timeout,
        })
    }
}

/// A matching route: its segment ranks, whether its method is specific, the route and its
/// path parameters.
type Candidate<'a> = (Vec<u8>, bool, &'a Route, Vec<(String, String)>);

fn match_segments(pattern: &[Segment], parts: &[&str]) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    for (i, seg) in pattern.iter().enumerate() {
        match seg {
            Segment::Greedy(name) => {
                let rest = parts.get(i..)?;
                if rest.is_empty() || rest.iter().all(|p| p.is_empty()) {
                    return None;
                }
                params.push((name.clone(), percent_decode(&rest.join("/"))));
                return Some(params);
            }
            Segment::Literal(l) => {
                if parts.get(i) != Some(&l.as_str()) {
                    return None;
                }
            }
            Segment::Param(name) => {
                let p = parts.get(i)?;
                if p.is_empty() {
                    return None;
                }
                params.push((name.clone(), percent_decode(p)));
            }
        }
    }
    (parts.len() == pattern.len()).then_some(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    /// The route table of a template whose one function (binary `users`) has `routes` as
    /// `HttpApi` events (`$default` for the catch-all).
    fn table(routes: &[(&str, &str)]) -> RouteTable {
        let events: String = routes
            .iter()
            .enumerate()
            .map(|(i, (method, path))| match *method {
                "$default" => format!("        E{i}: {{Type: HttpApi}}\n"),
                _ => format!(
                    "        E{i}: {{Type: HttpApi, Properties: {{Method: '{method}', Path: '{path}'}}}}\n"
                ),
            })
            .collect();
        let text = format!(
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata: \
             {{BuildProperties: {{Binary: users}}}}\n    Properties:\n      Events:\n{events}"
        );
        let t = Deployment::parse(&text).expect("the test template parses");
        assert!(t.problems.is_empty(), "{:?}", t.problems);
        RouteTable::new(&t)
    }

    #[test]
    fn the_most_specific_route_wins() {
        let t = table(&[
            ("GET", "/v1/users/{user_id}"),
            ("GET", "/v1/users/me"),
            ("GET", "/v1/users/search"),
            ("ANY", "/v1/{proxy+}"),
            ("PATCH", "/v1/users/me"),
        ]);
        let key = |m: &str, p: &str| t.find(m, p).map(|x| x.route_key);
        assert_eq!(
            key("GET", "/v1/users/me").as_deref(),
            Some("GET /v1/users/me")
        );
        assert_eq!(
            key("GET", "/v1/users/search").as_deref(),
            Some("GET /v1/users/search")
        );
        let m = t.find("GET", "/v1/users/abc%20d").unwrap();
        assert_eq!(m.route_key, "GET /v1/users/{user_id}");
        assert_eq!(m.params, vec![("user_id".into(), "abc d".into())]);
        assert_eq!(
            key("DELETE", "/v1/users/me").as_deref(),
            Some("ANY /v1/{proxy+}")
        );
        assert_eq!(key("GET", "/v2/x"), None);
        assert_eq!(key("GET", "/v1/users/"), Some("ANY /v1/{proxy+}".into()));
        let with_default = table(&[("GET", "/a"), ("$default", "")]);
        assert_eq!(
            with_default
                .find("POST", "/zzz")
                .map(|m| m.route_key)
                .as_deref(),
            Some("$default")
        );
    }
}
