//! `template.yaml` declares exactly the DynamoDB tables of
//! `banter::store::dynamodb::tables::ALL`: same logical ids, key schema, attribute definitions,
//! GSIs (names, keys, projection) and TTL, and no other table. The tests create their tables
//! from those definitions, so this is what keeps the deployed tables and the tested ones equal.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use banter::store::dynamodb::tables::{ALL, TTL_ATTRIBUTE, TableDef};
use serde_yaml_ng::{Mapping, Value};

/// CloudFormation resource types that create a DynamoDB table.
const TABLE_TYPES: [&str; 3] = [
    "AWS::DynamoDB::Table",
    "AWS::DynamoDB::GlobalTable",
    "AWS::Serverless::SimpleTable",
];

fn template_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("template.yaml")
}

/// The parsed template, with CloudFormation short-form tags in their long form.
fn load_template() -> Value {
    let text = std::fs::read_to_string(template_path()).expect("read template.yaml");
    let raw: Value = serde_yaml_ng::from_str(&text).expect("template.yaml is valid YAML");
    long_form(&raw)
}

/// Rewrites short-form intrinsics as their long form, recursively: `!Ref X` → `{Ref: X}`,
/// `!Condition X` → `{Condition: X}`, `!Sub s` → `{"Fn::Sub": s}` (and so on for every
/// other `!Name`).
fn long_form(v: &Value) -> Value {
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

/// The parts of a table definition the code and the template must agree on.
#[derive(Debug, Clone, PartialEq)]
struct TableShape {
    /// `(AttributeName, KeyType)` in order.
    key_schema: Vec<(String, String)>,
    /// `(AttributeName, AttributeType)`, sorted (duplicates kept, so they show).
    attributes: Vec<(String, String)>,
    /// Index name → (key schema, projection).
    gsis: BTreeMap<String, (Vec<(String, String)>, Value)>,
    /// The TTL attribute when TTL is enabled.
    ttl: Option<String>,
    /// Whether any local secondary index is declared (none should be).
    has_lsis: bool,
}

fn yaml(s: &str) -> Value {
    serde_yaml_ng::from_str(s).unwrap()
}

fn keys(hash: &str, range: &str) -> Vec<(String, String)> {
    vec![
        (hash.to_owned(), "HASH".to_owned()),
        (range.to_owned(), "RANGE".to_owned()),
    ]
}

/// The shape `def` describes (as `tables::create_table` creates it).
fn expected_shape(def: &TableDef) -> TableShape {
    let mut attributes = vec![
        ("pk".to_owned(), "S".to_owned()),
        ("sk".to_owned(), "S".to_owned()),
    ];
    let mut gsis = BTreeMap::new();
    for gsi in def.gsis {
        let (pk, sk) = (format!("{gsi}pk"), format!("{gsi}sk"));
        attributes.push((pk.clone(), "S".to_owned()));
        attributes.push((sk.clone(), "S".to_owned()));
        gsis.insert(
            (*gsi).to_owned(),
            (keys(&pk, &sk), yaml("ProjectionType: ALL")),
        );
    }
    attributes.sort();
    TableShape {
        key_schema: keys("pk", "sk"),
        attributes,
        gsis,
        ttl: def.ttl.then(|| TTL_ATTRIBUTE.to_owned()),
        has_lsis: false,
    }
}

fn str_at<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing string {key} in {v:?}"))
}

fn pairs(v: Option<&Value>, a: &str, b: &str) -> Result<Vec<(String, String)>, String> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let seq = v
        .as_sequence()
        .ok_or_else(|| format!("expected a list, got {v:?}"))?;
    seq.iter()
        .map(|e| Ok((str_at(e, a)?.to_owned(), str_at(e, b)?.to_owned())))
        .collect()
}

/// Reads the shape of a table resource's `Properties`.
fn template_shape(props: &Value) -> Result<TableShape, String> {
    let key_schema = pairs(props.get("KeySchema"), "AttributeName", "KeyType")?;
    let mut attributes = pairs(
        props.get("AttributeDefinitions"),
        "AttributeName",
        "AttributeType",
    )?;
    attributes.sort();
    let mut gsis = BTreeMap::new();
    if let Some(list) = props.get("GlobalSecondaryIndexes") {
        for gsi in list
            .as_sequence()
            .ok_or("GlobalSecondaryIndexes is not a list")?
        {
            let name = str_at(gsi, "IndexName")?.to_owned();
            let schema = pairs(gsi.get("KeySchema"), "AttributeName", "KeyType")?;
            let projection = gsi.get("Projection").cloned().unwrap_or(Value::Null);
            if gsis.insert(name.clone(), (schema, projection)).is_some() {
                return Err(format!("GSI {name} declared twice"));
            }
        }
    }
    let ttl = match props.get("TimeToLiveSpecification") {
        None => None,
        Some(spec) => match spec.get("Enabled") {
            Some(Value::Bool(true)) => Some(str_at(spec, "AttributeName")?.to_owned()),
            Some(Value::Bool(false)) => None,
            other => return Err(format!("TimeToLiveSpecification.Enabled is {other:?}")),
        },
    };
    Ok(TableShape {
        key_schema,
        attributes,
        gsis,
        ttl,
        has_lsis: props.get("LocalSecondaryIndexes").is_some(),
    })
}

/// Every way the template's tables differ from `defs`; empty when they agree.
fn table_mismatches(template: &Value, defs: &[TableDef]) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(resources) = template.get("Resources").and_then(Value::as_mapping) else {
        return vec!["template has no Resources mapping".into()];
    };
    let wanted: BTreeSet<&str> = defs.iter().map(|d| d.logical_id).collect();

    for (id, resource) in resources {
        let ty = resource.get("Type").and_then(Value::as_str).unwrap_or("");
        let id = id.as_str().unwrap_or("<non-string id>");
        if TABLE_TYPES.contains(&ty) && !wanted.contains(id) {
            problems.push(format!("{id}: {ty} that no TableDef describes"));
        }
    }

    for def in defs {
        let id = def.logical_id;
        let Some(resource) = resources.get(id) else {
            problems.push(format!("{id}: missing (table {})", def.name));
            continue;
        };
        let ty = resource.get("Type").and_then(Value::as_str).unwrap_or("");
        if ty != "AWS::DynamoDB::Table" {
            problems.push(format!("{id}: Type is {ty:?}, not AWS::DynamoDB::Table"));
            continue;
        }
        let props = resource.get("Properties").unwrap_or(&Value::Null);
        match template_shape(props) {
            Err(e) => problems.push(format!("{id}: {e}")),
            Ok(shape) => {
                let expected = expected_shape(def);
                if shape != expected {
                    problems.push(format!(
                        "{id}: template declares\n  {shape:?}\nbut the code defines\n  {expected:?}"
                    ));
                }
            }
        }
        let billing = props.get("BillingMode").and_then(Value::as_str);
        if billing != Some("PAY_PER_REQUEST") {
            problems.push(format!(
                "{id}: BillingMode is {billing:?}, not PAY_PER_REQUEST"
            ));
        }
        let name = props.get("TableName");
        let expected_name = yaml(&format!(
            "{{\"Fn::Sub\": \"${{AWS::StackName}}-{}\"}}",
            def.name
        ));
        if name != Some(&expected_name) {
            problems.push(format!(
                "{id}: TableName is {name:?}, not !Sub \"${{AWS::StackName}}-{}\"",
                def.name
            ));
        }
    }
    problems
}

/// A mutable handle on a table's `Properties` in a parsed template.
fn props_mut<'a>(template: &'a mut Value, logical_id: &str) -> &'a mut Value {
    template
        .get_mut("Resources")
        .and_then(|r| r.get_mut(logical_id))
        .and_then(|r| r.get_mut("Properties"))
        .unwrap()
}

#[test]
fn template_declares_exactly_the_tables_of_the_code() {
    let template = load_template();
    let problems = table_mismatches(&template, &ALL);
    assert!(
        problems.is_empty(),
        "template.yaml and tables.rs disagree:\n{}",
        problems.join("\n")
    );
}

#[test]
fn short_form_tags_are_read() {
    let template = load_template();
    let name = &template["Resources"]["UsersTable"]["Properties"]["TableName"];
    assert_eq!(name, &yaml("{\"Fn::Sub\": \"${AWS::StackName}-users\"}"));
    let output = &template["Outputs"]["UsersTableName"]["Value"];
    assert_eq!(output, &yaml("{Ref: UsersTable}"));
}

#[test]
fn every_table_has_an_output() {
    let template = load_template();
    for def in ALL {
        let value = &template["Outputs"][format!("{}Name", def.logical_id).as_str()]["Value"];
        assert_eq!(
            value,
            &yaml(&format!("{{Ref: {}}}", def.logical_id)),
            "output of {}",
            def.logical_id
        );
    }
}

/// The comparison is not vacuous: each kind of drift is reported, naming the table.
#[test]
fn comparison_detects_mismatches() {
    let original = load_template();
    assert!(table_mismatches(&original, &ALL).is_empty());

    type Edit = fn(&mut Value);
    let edits: Vec<(&str, &str, Edit)> = vec![
        ("changed GSI key", "CommentsTable", |t| {
            let gsis = props_mut(t, "CommentsTable")
                .get_mut("GlobalSecondaryIndexes")
                .unwrap();
            gsis[1]["KeySchema"][1]["AttributeName"] = Value::String("gsi2other".into());
        }),
        ("GSI projection", "UsersTable", |t| {
            let gsis = props_mut(t, "UsersTable")
                .get_mut("GlobalSecondaryIndexes")
                .unwrap();
            gsis[0]["Projection"] = yaml("ProjectionType: KEYS_ONLY");
        }),
        ("missing GSI", "CommentsTable", |t| {
            let gsis = props_mut(t, "CommentsTable")
                .get_mut("GlobalSecondaryIndexes")
                .unwrap();
            gsis.as_sequence_mut().unwrap().pop();
        }),
        ("TTL removed", "ConnectionsTable", |t| {
            props_mut(t, "ConnectionsTable")
                .as_mapping_mut()
                .unwrap()
                .remove("TimeToLiveSpecification");
        }),
        ("TTL attribute renamed", "RateLimitsTable", |t| {
            props_mut(t, "RateLimitsTable")["TimeToLiveSpecification"]["AttributeName"] =
                Value::String("expires".into());
        }),
        ("TTL on a table without it", "EventsTable", |t| {
            props_mut(t, "EventsTable")
                .as_mapping_mut()
                .unwrap()
                .insert(
                    "TimeToLiveSpecification".into(),
                    yaml("{AttributeName: ttl_epoch, Enabled: true}"),
                );
        }),
        ("key types swapped", "MessagesTable", |t| {
            let ks = &mut props_mut(t, "MessagesTable")["KeySchema"];
            ks[0]["KeyType"] = Value::String("RANGE".into());
            ks[1]["KeyType"] = Value::String("HASH".into());
        }),
        ("numeric attribute", "EventsTable", |t| {
            props_mut(t, "EventsTable")["AttributeDefinitions"][0]["AttributeType"] =
                Value::String("N".into());
        }),
        ("table removed", "MessagesTable", |t| {
            t["Resources"]
                .as_mapping_mut()
                .unwrap()
                .remove("MessagesTable");
        }),
        ("extra table", "ExtraTable", |t| {
            let extra = t["Resources"]["EventsTable"].clone();
            t["Resources"]
                .as_mapping_mut()
                .unwrap()
                .insert("ExtraTable".into(), extra);
        }),
        ("provisioned billing", "UsersTable", |t| {
            props_mut(t, "UsersTable")["BillingMode"] = Value::String("PROVISIONED".into());
        }),
        ("table name", "ConversationsTable", |t| {
            props_mut(t, "ConversationsTable")["TableName"] =
                yaml("{\"Fn::Sub\": \"${AWS::StackName}-convs\"}");
        }),
    ];
    for (what, table, edit) in edits {
        let mut template = original.clone();
        edit(&mut template);
        assert_ne!(template, original, "{what}: the edit changed nothing");
        let problems = table_mismatches(&template, &ALL);
        assert!(!problems.is_empty(), "{what}: not detected");
        assert!(
            problems.iter().all(|p| p.starts_with(table)),
            "{what}: expected problems with {table} only, got {problems:#?}"
        );
    }

    // A definition the template lacks is reported too.
    let mut defs = ALL.to_vec();
    defs[0].gsis = &["gsi1", "gsi2"];
    let problems = table_mismatches(&original, &defs);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].starts_with("UsersTable"));
}
