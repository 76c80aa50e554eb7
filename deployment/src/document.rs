//! The template as a document: short-form tags rewritten to their long form, and the
//! intrinsic functions the model follows (`Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`) read
//! against the parameters' defaults and the local pseudo parameters.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use serde_yaml_ng::{Mapping, Value};

/// Values the pseudo parameters resolve to when nothing is deployed.
pub const PSEUDO_PARAMETERS: &[(&str, &str)] = &[
    ("AWS::Region", "us-east-1"),
    ("AWS::AccountId", "000000000000"),
    ("AWS::StackName", "banter-local"),
    ("AWS::Partition", "aws"),
    ("AWS::URLSuffix", "amazonaws.com"),
];

/// Rewrites short-form intrinsics as their long form, recursively: `!Ref X` → `{Ref: X}`,
/// `!Condition X` → `{Condition: X}`, `!GetAtt A.B` → `{"Fn::GetAtt": "A.B"}`, and so on for
/// every other `!Name`.
pub fn long_form(v: &Value) -> Value {
    match v {
        Value::Tagged(t) => {
            let name = t.tag.to_string();
            let name = name.trim_start_matches('!');
            let key = match name {
                "Ref" | "Condition" => name.to_owned(),
                other => format!("Fn::{other}"),
            };
            let mut m = Mapping::new();
            m.insert(Value::String(key), long_form(&t.value));
            Value::Mapping(m)
        }
        Value::Sequence(s) => Value::Sequence(s.iter().map(long_form).collect()),
        Value::Mapping(m) => Value::Mapping(
            m.iter()
                .map(|(k, v)| (long_form(k), long_form(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// YAML text parsed and put in long form (for tests that build template fragments).
pub fn yaml(text: &str) -> Result<Value, serde_yaml_ng::Error> {
    Ok(long_form(&serde_yaml_ng::from_str(text)?))
}

/// Every logical id `v` refers to through `Ref`, `Fn::GetAtt` or `Fn::Sub`, anywhere inside.
pub fn references(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect_refs(v, &mut out);
    out
}

fn collect_refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Mapping(m) => {
            for (k, inner) in m {
                match (k.as_str(), inner) {
                    (Some("Ref"), Value::String(name)) => {
                        out.insert(name.clone());
                    }
                    (Some("Fn::GetAtt"), Value::String(s)) => {
                        if let Some(id) = s.split('.').next() {
                            out.insert(id.to_owned());
                        }
                    }
                    (Some("Fn::GetAtt"), Value::Sequence(parts)) => {
                        if let Some(Value::String(id)) = parts.first() {
                            out.insert(id.clone());
                        }
                    }
                    (Some("Fn::Sub"), Value::String(s)) => {
                        for var in sub_variables(s) {
                            out.insert(var.split('.').next().unwrap_or_default().to_owned());
                        }
                    }
                    (Some("Fn::Sub"), Value::Sequence(parts)) => {
                        let local: BTreeSet<String> = match parts.get(1) {
                            Some(Value::Mapping(vars)) => vars
                                .keys()
                                .filter_map(|k| k.as_str().map(str::to_owned))
                                .collect(),
                            _ => BTreeSet::new(),
                        };
                        if let Some(Value::String(s)) = parts.first() {
                            for var in sub_variables(s) {
                                let id = var.split('.').next().unwrap_or_default();
                                if !local.contains(id) {
                                    out.insert(id.to_owned());
                                }
                            }
                        }
                        if let Some(vars) = parts.get(1) {
                            collect_refs(vars, out);
                        }
                    }
                    _ => collect_refs(inner, out),
                }
            }
        }
        Value::Sequence(s) => s.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

/// The `${…}` variables of a `Fn::Sub` string (not the `${!Literal}` escapes).
pub fn sub_variables(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let var = after[..end].trim();
        if !var.starts_with('!') && !var.is_empty() {
            out.push(var);
        }
        rest = &after[end + 1..];
    }
    out
}

/// `v[key]` when `v` is a mapping.
pub fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_mapping().and_then(|m| m.get(key))
}

/// `v[k1][k2]…`.
pub fn path<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(v, |v, k| get(v, k))
}

/// The logical id a `{Ref: X}` names.
pub fn ref_target(v: &Value) -> Option<&str> {
    match v {
        Value::Mapping(m) if m.len() == 1 => m.get("Ref").and_then(Value::as_str),
        _ => None,
    }
}

static EMPTY: LazyLock<Mapping> = LazyLock::new(Mapping::new);

/// A long-form document with the lookups every reader needs: resources by type, scalar
/// settings through parameters, references to resources of a kind.
#[derive(Debug, Clone)]
pub struct Document<'a> {
    doc: &'a Value,
    resources: &'a Mapping,
    /// Every parameter's `Default`, unresolved.
    parameters: BTreeMap<String, Value>,
}

impl<'a> Document<'a> {
    /// Lookups over `doc` (already in long form).
    pub fn new(doc: &'a Value) -> Self {
        let resources = get(doc, "Resources")
            .and_then(Value::as_mapping)
            .unwrap_or(&EMPTY);
        let parameters = get(doc, "Parameters")
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), get(v, "Default")?.clone())))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            doc,
            resources,
            parameters,
        }
    }

    /// The whole document.
    pub fn root(&self) -> &'a Value {
        self.doc
    }

    /// Resources of `kind`, as (logical id, resource), in template order.
    pub fn resources_of(&self, kind: &str) -> Vec<(String, &'a Value)> {
        self.resources
            .iter()
            .filter(|(_, r)| get(r, "Type").and_then(Value::as_str) == Some(kind))
            .filter_map(|(k, r)| Some((k.as_str()?.to_owned(), r)))
            .collect()
    }

    /// The `Type` of resource `id`.
    pub fn resource_type(&self, id: &str) -> Option<&'a str> {
        self.resources
            .get(id)
            .and_then(|r| get(r, "Type"))
            .and_then(Value::as_str)
    }

    /// Every parameter's default, resolved to text where it resolves.
    pub fn parameter_defaults(&self) -> BTreeMap<String, String> {
        self.parameters
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), self.scalar(v)?)))
            .collect()
    }

    /// A scalar setting: a literal, a `Ref` to a parameter with a default or a pseudo
    /// parameter, a `Fn::Sub` of those, or a `Fn::Join` of those (a list parameter joins its
    /// comma-separated default).
    pub fn scalar(&self, v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Mapping(m) if m.len() == 1 => {
                if let Some(Value::String(name)) = m.get("Ref") {
                    return self.resolve_name(name);
                }
                if let Some(Value::String(s)) = m.get("Fn::Sub") {
                    let mut text = s.clone();
                    for var in sub_variables(s) {
                        let value = self.resolve_name(var)?;
                        text = text.replace(&format!("${{{var}}}"), &value);
                    }
                    return Some(text);
                }
                if let Some(Value::Sequence(parts)) = m.get("Fn::Join") {
                    let sep = parts.first()?.as_str()?;
                    let items: Vec<String> = match parts.get(1)? {
                        Value::Sequence(items) => items
                            .iter()
                            .map(|i| self.scalar(i))
                            .collect::<Option<_>>()?,
                        other => self.strings(other),
                    };
                    return Some(items.join(sep));
                }
                None
            }
            _ => None,
        }
    }

    fn resolve_name(&self, name: &str) -> Option<String> {
        if let Some((_, v)) = PSEUDO_PARAMETERS.iter().find(|(k, _)| *k == name) {
            return Some((*v).to_owned());
        }
        self.parameters.get(name).and_then(|d| self.scalar(d))
    }

    /// A whole-number setting: `None` when absent, an error when it is not a constant number.
    pub fn number(&self, v: Option<&Value>) -> Option<Result<u64, String>> {
        let v = v?;
        Some(match self.scalar(v) {
            Some(s) => s
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("{s:?} is not a whole number")),
            None => Err("does not resolve to a constant".into()),
        })
    }

    /// A list of strings: a sequence of scalars, or a scalar (comma-separated).
    pub fn strings(&self, v: &Value) -> Vec<String> {
        match v {
            Value::Sequence(items) => items.iter().filter_map(|x| self.scalar(x)).collect(),
            other => self
                .scalar(other)
                .map(|s| {
                    s.split(',')
                        .map(|x| x.trim().to_owned())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The one reference in `v` to a resource of one of `kinds`.
    pub fn reference_to(&self, v: &Value, kinds: &[&str]) -> Result<String, String> {
        let ids: Vec<String> = references(v)
            .into_iter()
            .filter(|id| self.resource_type(id).is_some_and(|t| kinds.contains(&t)))
            .collect();
        match ids.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(format!("refers to no {}", kinds.join(" / "))),
            many => Err(format!("refers to several: {}", many.join(", "))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_follow_every_form() {
        let doc = yaml(
            r#"
a: !Ref One
b: !GetAtt Two.Arn
c: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/functions/${Three.Arn}/invocations"
d: !Sub ["x/${Four}/${Local}", {Local: !Ref Five}]
e: {"Fn::GetAtt": [Six, Arn]}
f: !Join ["/", ["integrations", !Ref Seven]]
g: !Sub "${!Literal}"
"#,
        )
        .unwrap();
        let refs = references(&doc);
        let want: BTreeSet<String> = [
            "One",
            "Two",
            "AWS::Region",
            "Three",
            "Four",
            "Five",
            "Six",
            "Seven",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        assert_eq!(refs, want);
    }

    #[test]
    fn scalars_resolve_parameters_subs_and_joins() {
        let doc = yaml(
            "Parameters: {Stage: {Type: String, Default: dev}, N: {Type: Number, Default: 7}, \
             L: {Type: CommaDelimitedList, Default: 'a,b'}}",
        )
        .unwrap();
        let d = Document::new(&doc);
        let sub = yaml("!Sub ${AWS::StackName}-${Stage}").unwrap();
        assert_eq!(d.scalar(&sub).as_deref(), Some("banter-local-dev"));
        let n = yaml("!Ref N").unwrap();
        assert_eq!(d.number(Some(&n)), Some(Ok(7)));
        let unknown = yaml("!Ref Nope").unwrap();
        assert_eq!(d.scalar(&unknown), None);
        let join = yaml("!Join [',', !Ref L]").unwrap();
        assert_eq!(d.scalar(&join).as_deref(), Some("a,b"));
        let join = yaml("!Join ['-', [x, !Ref Stage]]").unwrap();
        assert_eq!(d.scalar(&join).as_deref(), Some("x-dev"));
        assert_eq!(d.parameter_defaults()["L"], "a,b");
    }
}
