//! `template.yaml` declares exactly the DynamoDB tables of
//! `banter::store::dynamodb::tables::ALL`: same logical ids, key schema, attribute definitions,
//! GSIs (names, keys, projection) and TTL, and no other table. The tests create their tables
//! from those definitions, so this is what keeps the deployed tables and the tested ones equal.

use std::collections::{BTreeMap, BTreeSet};

use banter::store::dynamodb::tables::{ALL, TTL_ATTRIBUTE, TableDef};
use banter_deployment::document::{self, get, path};
use banter_deployment::{Deployment, Table, Value};

/// CloudFormation resource types that create a DynamoDB table.
const TABLE_TYPES: [&str; 3] = [
    "AWS::DynamoDB::Table",
    "AWS::DynamoDB::GlobalTable",
    "AWS::Serverless::SimpleTable",
];

/// The deployment `template.yaml` describes.
fn load_deployment() -> Deployment {
    Deployment::load_default().expect("template.yaml is valid YAML")
}

/// The model of an edited copy of [`Deployment::document`].
fn model(template: &Value) -> Deployment {
    Deployment::from_document(template).expect("the edited template is a mapping")
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
    document::yaml(s).unwrap()
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

/// The shape of a table as the deployment model reads it.
fn template_shape(table: &Table) -> TableShape {
    let mut attributes = table.attributes.clone();
    attributes.sort();
    TableShape {
        key_schema: table.key_schema.clone(),
        attributes,
        gsis: table
            .global_indexes
            .iter()
            .map(|(name, i)| (name.clone(), (i.key_schema.clone(), i.projection.clone())))
            .collect(),
        ttl: table.ttl_attribute.clone(),
        has_lsis: table.has_local_indexes,
    }
}

/// Every way the template's tables differ from `defs`; empty when they agree.
fn table_mismatches(d: &Deployment, defs: &[TableDef]) -> Vec<String> {
    let mut problems = Vec::new();
    if get(&d.document, "Resources")
        .and_then(Value::as_mapping)
        .is_none()
    {
        return vec!["template has no Resources mapping".into()];
    }
    let wanted: BTreeSet<&str> = defs.iter().map(|d| d.logical_id).collect();

    for ty in TABLE_TYPES {
        for (id, _) in d.resources_of(ty) {
            if !wanted.contains(id.as_str()) {
                problems.push(format!("{id}: {ty} that no TableDef describes"));
            }
        }
    }

    for def in defs {
        let id = def.logical_id;
        let Some(resource) = d.resource(id) else {
            problems.push(format!("{id}: missing (table {})", def.name));
            continue;
        };
        let ty = get(resource, "Type").and_then(Value::as_str).unwrap_or("");
        if ty != "AWS::DynamoDB::Table" {
            problems.push(format!("{id}: Type is {ty:?}, not AWS::DynamoDB::Table"));
            continue;
        }
        let (billing, name) = match d.tables.get(id) {
            Some(table) => {
                let shape = template_shape(table);
                let expected = expected_shape(def);
                if shape != expected {
                    problems.push(format!(
                        "{id}: template declares\n  {shape:?}\nbut the code defines\n  {expected:?}"
                    ));
                }
                (table.billing_mode.as_deref(), table.table_name.as_ref())
            }
            // The model could not read the table: its reason, and the settings as written.
            None => {
                let prefix = format!("table {id}: ");
                for p in &d.problems {
                    if let Some(e) = p.strip_prefix(&prefix) {
                        problems.push(format!("{id}: {e}"));
                    }
                }
                let setting = |key: &str| path(resource, &["Properties", key]);
                (
                    setting("BillingMode").and_then(Value::as_str),
                    setting("TableName"),
                )
            }
        };
        if billing != Some("PAY_PER_REQUEST") {
            problems.push(format!(
                "{id}: BillingMode is {billing:?}, not PAY_PER_REQUEST"
            ));
        }
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

/// A mutable handle on a table's `Properties` in a template document.
fn props_mut<'a>(template: &'a mut Value, logical_id: &str) -> &'a mut Value {
    template
        .get_mut("Resources")
        .and_then(|r| r.get_mut(logical_id))
        .and_then(|r| r.get_mut("Properties"))
        .unwrap()
}

#[test]
fn template_declares_exactly_the_tables_of_the_code() {
    let problems = table_mismatches(&load_deployment(), &ALL);
    assert!(
        problems.is_empty(),
        "template.yaml and tables.rs disagree:\n{}",
        problems.join("\n")
    );
}

#[test]
fn short_form_tags_are_read() {
    let template = load_deployment().document;
    let name = &template["Resources"]["UsersTable"]["Properties"]["TableName"];
    assert_eq!(name, &yaml("{\"Fn::Sub\": \"${AWS::StackName}-users\"}"));
    let output = &template["Outputs"]["UsersTableName"]["Value"];
    assert_eq!(output, &yaml("{Ref: UsersTable}"));
}

#[test]
fn every_table_has_an_output() {
    let template = load_deployment().document;
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
    let deployment = load_deployment();
    let original = deployment.document.clone();
    assert!(table_mismatches(&deployment, &ALL).is_empty());

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
        let problems = table_mismatches(&model(&template), &ALL);
        assert!(!problems.is_empty(), "{what}: not detected");
        assert!(
            problems.iter().all(|p| p.starts_with(table)),
            "{what}: expected problems with {table} only, got {problems:#?}"
        );
    }

    // A definition the template lacks is reported too.
    let mut defs = ALL.to_vec();
    defs[0].gsis = &["gsi1", "gsi2"];
    let problems = table_mismatches(&deployment, &defs);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].starts_with("UsersTable"));
}
