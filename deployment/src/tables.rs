//! DynamoDB tables: keys, attribute types, indexes, TTL and billing.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

use crate::document::get;
use crate::reader::Reader;

/// One key of a key schema: `(AttributeName, KeyType)`.
pub type Key = (String, String);

/// A global secondary index.
#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    /// `KeySchema`, in order.
    pub key_schema: Vec<Key>,
    /// `Projection` as written.
    pub projection: Value,
}

/// An `AWS::DynamoDB::Table`.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Logical id.
    pub logical_id: String,
    /// `TableName` as written (long form).
    pub table_name: Option<Value>,
    /// `KeySchema`, in order.
    pub key_schema: Vec<Key>,
    /// `AttributeDefinitions` as `(AttributeName, AttributeType)`, in template order.
    pub attributes: Vec<(String, String)>,
    /// Global secondary indexes by `IndexName`.
    pub global_indexes: BTreeMap<String, Index>,
    /// Whether any local secondary index is declared.
    pub has_local_indexes: bool,
    /// The TTL attribute when TTL is enabled.
    pub ttl_attribute: Option<String>,
    /// `BillingMode`.
    pub billing_mode: Option<String>,
}

fn str_at<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    get(v, key)
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

/// Reads one table's `Properties`.
fn table(logical_id: &str, props: &Value) -> Result<Table, String> {
    let mut global_indexes = BTreeMap::new();
    if let Some(list) = get(props, "GlobalSecondaryIndexes") {
        for gsi in list
            .as_sequence()
            .ok_or("GlobalSecondaryIndexes is not a list")?
        {
            let name = str_at(gsi, "IndexName")?.to_owned();
            let index = Index {
                key_schema: pairs(get(gsi, "KeySchema"), "AttributeName", "KeyType")?,
                projection: get(gsi, "Projection").cloned().unwrap_or(Value::Null),
            };
            if global_indexes.insert(name.clone(), index).is_some() {
                return Err(format!("GSI {name} declared twice"));
            }
        }
    }
    let ttl_attribute = match get(props, "TimeToLiveSpecification") {
        None => None,
        Some(spec) => match get(spec, "Enabled") {
            Some(Value::Bool(true)) => Some(str_at(spec, "AttributeName")?.to_owned()),
            Some(Value::Bool(false)) => None,
            other => return Err(format!("TimeToLiveSpecification.Enabled is {other:?}")),
        },
    };
    Ok(Table {
        logical_id: logical_id.to_owned(),
        table_name: get(props, "TableName").cloned(),
        key_schema: pairs(get(props, "KeySchema"), "AttributeName", "KeyType")?,
        attributes: pairs(
            get(props, "AttributeDefinitions"),
            "AttributeName",
            "AttributeType",
        )?,
        global_indexes,
        has_local_indexes: get(props, "LocalSecondaryIndexes").is_some(),
        ttl_attribute,
        billing_mode: get(props, "BillingMode")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

impl Reader<'_> {
    pub(crate) fn read_tables(&mut self) {
        let doc = self.doc;
        for (id, resource) in doc.resources_of("AWS::DynamoDB::Table") {
            let props = get(resource, "Properties").unwrap_or(&Value::Null);
            match table(&id, props) {
                Ok(t) => {
                    self.out.tables.insert(id, t);
                }
                Err(e) => self.problem(format!("table {id}: {e}")),
            }
        }
    }
}
