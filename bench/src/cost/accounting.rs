//! One metered AWS request (its `X-Amz-Target`, request JSON, outcome and response JSON)
//! turned into counts, by the rules AWS bills with:
//!
//! - **DynamoDB reads**: one read unit per started 4 KB, ×½ eventually consistent, ×2
//!   transactional. `GetItem` and `BatchGetItem` round each item; `Query` and `Scan` round the
//!   total of the items they read (before a filter; with a filter the size of what was read
//!   is estimated from the items returned). A key that is not found costs the minimum.
//! - **DynamoDB writes**: one write unit per started 1 KB of the item (after the write; for
//!   `UpdateItem` the meter fetches the item afterwards), ×2 in `TransactWriteItems`. Every
//!   global secondary index the item is in costs its own write units (all of Banter's project
//!   all attributes); two when the write changes the index's key (a delete and a put). A
//!   failed conditional write is charged like a successful one. Deletes are charged the
//!   minimum (the item is gone before it could be measured).
//! - **SQS**: every request is billed, one per started 64 KB of payload; an empty receive is
//!   reported as its own operation (`ReceiveMessage (empty)`), as it is a cost of polling, not
//!   of any message.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::counts::{DynamoCount, SqsCount};
use super::item_size::{item_size, item_size_of};

/// Which service a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `DynamoDB_20120810.*`.
    DynamoDb,
    /// `AmazonSQS.*` (the JSON protocol).
    Sqs,
    /// Anything else.
    Other,
}

/// The service and operation named by an `X-Amz-Target` header.
pub fn target(header: Option<&str>) -> (Service, String) {
    let Some(h) = header else {
        return (Service::Other, "unknown".into());
    };
    let (prefix, op) = h.split_once('.').unwrap_or((h, ""));
    let service = if prefix.starts_with("DynamoDB") {
        Service::DynamoDb
    } else if prefix == "AmazonSQS" {
        Service::Sqs
    } else {
        Service::Other
    };
    (service, op.to_owned())
}

/// Each table's global secondary indexes, as the key attribute names of each.
pub type Indexes = HashMap<String, Vec<Vec<String>>>;

/// The table and the key attributes of each of its GSIs, from a `CreateTable` request.
pub fn indexes_of_create_table(req: &Value) -> Option<(String, Vec<Vec<String>>)> {
    let table = req["TableName"].as_str()?.to_owned();
    let gsis = req["GlobalSecondaryIndexes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|g| {
                    g["KeySchema"]
                        .as_array()
                        .map(|ks| {
                            ks.iter()
                                .filter_map(|k| k["AttributeName"].as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    Some((table, gsis))
}

/// The (table, key) of every item whose state after `op` the meter must fetch to size the
/// write: `UpdateItem` (unless it returns `ALL_NEW`) and each `Update` of a
/// `TransactWriteItems`, in order.
pub fn after_image_keys(op: &str, req: &Value) -> Vec<(String, Value)> {
    let pair = |v: &Value| Some((v["TableName"].as_str()?.to_owned(), v["Key"].clone()));
    match op {
        "UpdateItem" if req["ReturnValues"] != "ALL_NEW" => pair(req).into_iter().collect(),
        "TransactWriteItems" => req["TransactItems"]
            .as_array()
            .map(|a| a.iter().filter_map(|t| pair(&t["Update"])).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// What one DynamoDB request did: a row of counts for its operation and table(s), and the
/// sizes of the items it wrote (table, kind, bytes).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DynamoRecord {
    /// The table, or `a+b` for a request over several tables; `table.index` for an index.
    pub table: String,
    /// The counts.
    pub count: DynamoCount,
    /// Items written: table, kind (see [`item_kind`]) and size.
    pub written: Vec<(String, String, u64)>,
}

/// Units of `bytes` in `unit`-byte steps, at least one.
pub fn units(bytes: f64, unit: f64) -> f64 {
    (bytes / unit).ceil().max(1.0)
}

const READ_UNIT: f64 = 4096.0;
const WRITE_UNIT: f64 = 1024.0;
const SQS_UNIT: f64 = 65536.0;

fn factor(consistent: &Value) -> f64 {
    if consistent.as_bool() == Some(true) {
        1.0
    } else {
        0.5
    }
}

fn len(v: &Value) -> f64 {
    v.as_array().map_or(0.0, |a| a.len() as f64)
}

fn to_f(n: u64) -> f64 {
    n as f64
}

/// An item's kind for reports: the prefix of its `pk` and of its `sk` before `#`
/// (`CONN/CONN`, `ROOM/<bucket>`, `CONN/SUB`, `EVENT/POS` …).
pub fn item_kind(item: &Map<String, Value>) -> String {
    let prefix = |attr: &str| {
        let s = item
            .get(attr)
            .and_then(|v| v["S"].as_str())
            .unwrap_or_default();
        let p = s.split('#').next().unwrap_or_default();
        if p.len() == 4 && p.chars().all(|c| c.is_ascii_hexdigit()) && s.contains('#') {
            "<bucket>".to_owned()
        } else {
            p.to_owned()
        }
    };
    format!("{}/{}", prefix("pk"), prefix("sk"))
}

/// The tables of a request, joined with `+`.
fn joined(tables: BTreeSet<String>) -> String {
    tables.into_iter().collect::<Vec<_>>().join("+")
}

struct Writes<'a> {
    indexes: &'a Indexes,
    count: DynamoCount,
    tables: BTreeSet<String>,
    written: Vec<(String, String, u64)>,
}

impl Writes<'_> {
    /// One item written to `table`: `item` after the write (when known), `multiplier` 2 in a
    /// transaction, `rekeyed` when the write may change index keys.
    fn item(
        &mut self,
        table: &str,
        item: Option<&Map<String, Value>>,
        multiplier: f64,
        rekeyed: &[String],
    ) {
        self.tables.insert(table.to_owned());
        let size = item.map_or(0, item_size);
        let size_f = to_f(size);
        self.count.items_written += 1.0;
        self.count.bytes_written += size_f;
        self.count.write_units += multiplier * units(size_f, WRITE_UNIT);
        if let Some(item) = item {
            self.written.push((table.to_owned(), item_kind(item), size));
            for keys in self.indexes.get(table).into_iter().flatten() {
                if keys.iter().all(|k| item.contains_key(k)) {
                    let changes_key = keys.iter().any(|k| rekeyed.contains(k));
                    let writes = if changes_key { 2.0 } else { 1.0 };
                    self.count.index_write_units += writes * units(size_f, WRITE_UNIT);
                }
            }
        }
    }

    /// A delete from `table`: the minimum (the item is not seen).
    fn delete(&mut self, table: &str, multiplier: f64) {
        self.tables.insert(table.to_owned());
        self.count.items_written += 1.0;
        self.count.write_units += multiplier;
    }
}

/// The attribute names an `UpdateItem` (or a transaction's `Update`) may change: every
/// `#name` it maps and every bare word of its update expression.
fn updated_attributes(update: &Value) -> Vec<String> {
    let mut names: Vec<String> = update["ExpressionAttributeNames"]
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if let Some(expr) = update["UpdateExpression"].as_str() {
        names.extend(
            expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '#'))
                .filter(|w| !w.is_empty() && !w.starts_with([':', '#']))
                .map(str::to_owned),
        );
    }
    names
}

/// Counts one DynamoDB request `op` with body `req` that succeeded (`ok`) or not, with the
/// response `resp` and the items [`after_image_keys`] named, fetched after it (in order).
pub fn dynamo(
    op: &str,
    req: &Value,
    ok: bool,
    resp: &Value,
    after: &[Option<Value>],
    indexes: &Indexes,
) -> DynamoRecord {
    let mut w = Writes {
        indexes,
        count: DynamoCount {
            requests: 1.0,
            errors: if ok { 0.0 } else { 1.0 },
            ..DynamoCount::default()
        },
        tables: BTreeSet::new(),
        written: Vec::new(),
    };
    let table = req["TableName"].as_str().unwrap_or_default().to_owned();
    let after_item = |i: usize| {
        after
            .get(i)
            .and_then(|a| a.as_ref())
            .and_then(Value::as_object)
    };
    match op {
        "GetItem" if ok => {
            let size = to_f(item_size_of(&resp["Item"]));
            let c = &mut w.count;
            c.read_units = units(size, READ_UNIT) * factor(&req["ConsistentRead"]);
            c.items_read = if resp["Item"].is_object() { 1.0 } else { 0.0 };
            c.bytes_read = size;
            w.tables.insert(table);
        }
        "BatchGetItem" if ok => {
            for (t, spec) in req["RequestItems"].as_object().into_iter().flatten() {
                let f = factor(&spec["ConsistentRead"]);
                let items = resp["Responses"][t].as_array().cloned().unwrap_or_default();
                let asked = len(&spec["Keys"]) - len(&resp["UnprocessedKeys"][t]["Keys"]);
                let c = &mut w.count;
                for item in &items {
                    let size = to_f(item_size_of(item));
                    c.read_units += units(size, READ_UNIT) * f;
                    c.bytes_read += size;
                }
                c.items_read += items.len() as f64;
                c.read_units += (asked - items.len() as f64).max(0.0) * f;
                w.tables.insert(t.clone());
            }
        }
        "Query" | "Scan" if ok => {
            let items = resp["Items"].as_array().cloned().unwrap_or_default();
            let returned: f64 = items.iter().map(|i| to_f(item_size_of(i))).sum();
            let count = resp["Count"].as_f64().unwrap_or(items.len() as f64);
            let scanned = resp["ScannedCount"].as_f64().unwrap_or(count);
            let bytes = if scanned > count && count > 0.0 {
                returned * scanned / count
            } else {
                returned
            };
            let c = &mut w.count;
            c.read_units = units(bytes, READ_UNIT) * factor(&req["ConsistentRead"]);
            c.items_read = scanned;
            c.bytes_read = bytes;
            let name = match req["IndexName"].as_str() {
                Some(i) => format!("{table}.{i}"),
                None => table,
            };
            w.tables.insert(name);
        }
        "TransactGetItems" if ok => {
            let gets = req["TransactItems"].as_array().cloned().unwrap_or_default();
            for (i, g) in gets.iter().enumerate() {
                let size = to_f(item_size_of(&resp["Responses"][i]["Item"]));
                w.count.read_units += 2.0 * units(size, READ_UNIT);
                w.count.bytes_read += size;
                w.count.items_read += 1.0;
                if let Some(t) = g["Get"]["TableName"].as_str() {
                    w.tables.insert(t.to_owned());
                }
            }
        }
        "PutItem" => w.item(&table, req["Item"].as_object(), 1.0, &[]),
        "UpdateItem" => {
            let item = resp["Attributes"]
                .as_object()
                .filter(|_| req["ReturnValues"] == "ALL_NEW");
            let item = item.or_else(|| after_item(0));
            w.item(&table, item, 1.0, &updated_attributes(req));
        }
        "DeleteItem" => w.delete(&table, 1.0),
        "BatchWriteItem" => {
            for (t, reqs) in req["RequestItems"].as_object().into_iter().flatten() {
                for r in reqs.as_array().into_iter().flatten() {
                    match r["PutRequest"]["Item"].as_object() {
                        Some(item) => w.item(t, Some(item), 1.0, &[]),
                        None => w.delete(t, 1.0),
                    }
                }
            }
        }
        "TransactWriteItems" => {
            let mut updates = 0;
            for t in req["TransactItems"].as_array().into_iter().flatten() {
                if let Some(put) = t.get("Put") {
                    let tb = put["TableName"].as_str().unwrap_or_default();
                    w.item(tb, put["Item"].as_object(), 2.0, &[]);
                } else if let Some(update) = t.get("Update") {
                    let tb = update["TableName"].as_str().unwrap_or_default();
                    let item = after_item(updates);
                    updates += 1;
                    w.item(tb, item, 2.0, &updated_attributes(update));
                } else if let Some(d) = t.get("Delete").or_else(|| t.get("ConditionCheck")) {
                    w.delete(d["TableName"].as_str().unwrap_or_default(), 2.0);
                }
            }
        }
        _ => {
            if !table.is_empty() {
                w.tables.insert(table);
            }
        }
    }
    DynamoRecord {
        table: joined(w.tables),
        count: w.count,
        written: w.written,
    }
}

/// The queue of an SQS request: the last segment of its `QueueUrl`, else its `QueueName`.
pub fn queue_of(req: &Value) -> String {
    req["QueueUrl"]
        .as_str()
        .and_then(|u| u.trim_end_matches('/').rsplit('/').next())
        .or_else(|| req["QueueName"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// Counts one SQS request `op`; returns the operation to report it under (an empty receive
/// is `ReceiveMessage (empty)`) and its counts.
pub fn sqs(op: &str, req: &Value, resp: &Value) -> (String, SqsCount) {
    let body_len = |v: &Value| v.as_str().map_or(0.0, |s| s.len() as f64);
    let (messages, bytes) = match op {
        "SendMessage" => (1.0, body_len(&req["MessageBody"])),
        "SendMessageBatch" => {
            let entries = req["Entries"].as_array().cloned().unwrap_or_default();
            let bytes = entries.iter().map(|e| body_len(&e["MessageBody"])).sum();
            (entries.len() as f64, bytes)
        }
        "ReceiveMessage" => {
            let msgs = resp["Messages"].as_array().cloned().unwrap_or_default();
            let bytes = msgs.iter().map(|m| body_len(&m["Body"])).sum();
            (msgs.len() as f64, bytes)
        }
        "DeleteMessageBatch" | "ChangeMessageVisibilityBatch" => (len(&req["Entries"]), 0.0),
        "DeleteMessage" | "ChangeMessageVisibility" => (1.0, 0.0),
        _ => (0.0, 0.0),
    };
    let name = if op == "ReceiveMessage" && messages == 0.0 {
        "ReceiveMessage (empty)".to_owned()
    } else {
        op.to_owned()
    };
    (
        name,
        SqsCount {
            requests: 1.0,
            billed_requests: units(bytes, SQS_UNIT),
            messages,
            bytes,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn indexes() -> Indexes {
        let create = json!({"TableName": "p-comments", "GlobalSecondaryIndexes": [
            {"IndexName": "gsi2", "KeySchema": [{"AttributeName": "gsi2pk"}, {"AttributeName": "gsi2sk"}]}
        ]});
        let (t, g) = indexes_of_create_table(&create).unwrap_or_default();
        Indexes::from([(t, g)])
    }

    #[test]
    fn targets_name_service_and_operation() {
        assert_eq!(
            target(Some("DynamoDB_20120810.Query")),
            (Service::DynamoDb, "Query".into())
        );
        assert_eq!(
            target(Some("AmazonSQS.SendMessage")),
            (Service::Sqs, "SendMessage".into())
        );
        assert_eq!(target(None).0, Service::Other);
    }

    #[test]
    fn queries_round_their_total_and_halve_eventual_reads() {
        let item = json!({"pk": {"S": "ROOM#event:e"}, "sk": {"S": "0abc#c"}, "x": {"S": "y".repeat(980)}});
        let resp = json!({"Items": vec![item; 10], "Count": 10, "ScannedCount": 10});
        let r = dynamo(
            "Query",
            &json!({"TableName": "p-connections"}),
            true,
            &resp,
            &[],
            &indexes(),
        );
        // 10 items of 1,008 bytes: 10,080 bytes = 3 × 4 KB, eventually consistent.
        assert_eq!(r.count.read_units, 1.5);
        assert_eq!(r.count.items_read, 10.0);
        assert_eq!(r.table, "p-connections");
        let consistent = json!({"TableName": "t", "ConsistentRead": true, "IndexName": "gsi1"});
        let empty = dynamo(
            "Query",
            &consistent,
            true,
            &json!({"Items": [], "Count": 0}),
            &[],
            &indexes(),
        );
        assert_eq!(empty.count.read_units, 1.0);
        assert_eq!(empty.table, "t.gsi1");
    }

    #[test]
    fn transactions_double_and_indexes_add_their_writes() {
        let comment = json!({"pk": {"S": "EVENT#e"}, "sk": {"S": "POS#1"},
                             "gsi2pk": {"S": "TOP#e"}, "gsi2sk": {"S": "0#1"}});
        let req = json!({"TransactItems": [
            {"Update": {"TableName": "p-comments", "Key": {"pk": {"S": "EVENT#e"}, "sk": {"S": "HEAD"}},
                        "UpdateExpression": "SET seq = :p"}},
            {"Put": {"TableName": "p-comments", "Item": comment}},
            {"ConditionCheck": {"TableName": "p-events"}}
        ]});
        assert_eq!(after_image_keys("TransactWriteItems", &req).len(), 1);
        let head = json!({"pk": {"S": "EVENT#e"}, "sk": {"S": "HEAD"}, "seq": {"N": "1"}});
        let r = dynamo(
            "TransactWriteItems",
            &req,
            true,
            &json!({}),
            &[Some(head)],
            &indexes(),
        );
        assert_eq!(r.count.write_units, 6.0);
        assert_eq!(r.count.index_write_units, 1.0);
        assert_eq!(r.count.items_written, 3.0);
        assert_eq!(r.table, "p-comments+p-events");
        let kinds: Vec<&str> = r.written.iter().map(|w| w.1.as_str()).collect();
        assert_eq!(kinds, ["EVENT/HEAD", "EVENT/POS"]);
    }

    #[test]
    fn updates_that_change_an_index_key_write_it_twice() {
        let req = json!({"TableName": "p-comments", "Key": {},
                         "UpdateExpression": "SET #k = :v ADD like_count :one",
                         "ExpressionAttributeNames": {"#k": "gsi2sk"}});
        let after = json!({"pk": {"S": "EVENT#e"}, "sk": {"S": "POS#1"},
                           "gsi2pk": {"S": "TOP#e"}, "gsi2sk": {"S": "1#1"}});
        let r = dynamo(
            "UpdateItem",
            &req,
            true,
            &json!({}),
            &[Some(after)],
            &indexes(),
        );
        assert_eq!((r.count.write_units, r.count.index_write_units), (1.0, 2.0));
    }

    #[test]
    fn sqs_bills_64_kb_chunks_and_names_empty_receives() {
        let big = "x".repeat(70_000);
        let (op, c) = sqs(
            "SendMessage",
            &json!({"MessageBody": big, "QueueUrl": "http://h/1/q"}),
            &json!({}),
        );
        assert_eq!((op.as_str(), c.billed_requests), ("SendMessage", 2.0));
        let (op, c) = sqs("ReceiveMessage", &json!({}), &json!({"Messages": []}));
        assert_eq!(
            (op.as_str(), c.billed_requests),
            ("ReceiveMessage (empty)", 1.0)
        );
        assert_eq!(
            queue_of(&json!({"QueueUrl": "http://h/123/fan-q"})),
            "fan-q"
        );
    }
}
