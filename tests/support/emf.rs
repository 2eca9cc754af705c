//! The CloudWatch Embedded Metric Format (EMF): what a log line must be for CloudWatch to read it
//! as metrics, and what those metrics are. The specification's JSON schema is
//! `tests/emf/emf.schema.json` (see tests/emf/README.md); [`Specification`] adds the rules the
//! schema cannot express. In support rather than in one area's tests because any test that runs
//! a function can check the EMF lines it writes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// Whether a JSON log line is an EMF document: CloudWatch extracts metrics from the lines with
/// an `_aws` member, and from no other.
pub fn is_document(line: &Value) -> bool {
    line.get("_aws").is_some()
}

/// The EMF specification: its JSON schema, and the rules beyond it.
pub struct Specification {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl Specification {
    pub fn load() -> Self {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("emf/emf.schema.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let schema: Value = serde_json::from_str(&text).expect("the EMF schema is JSON");
        let url = "urn:omnilab-bookings:emf.schema.json";
        let mut compiler = boon::Compiler::new();
        // The schema names no draft; its `"$id": "#/properties/..."` are draft-07's style.
        compiler.set_default_draft(boon::Draft::V7);
        compiler
            .add_resource(url, schema)
            .unwrap_or_else(|e| panic!("{e:#}"));
        let mut schemas = boon::Schemas::new();
        let index = compiler
            .compile(url, &mut schemas)
            .unwrap_or_else(|e| panic!("the EMF schema does not compile: {e:#}"));
        Self { schemas, index }
    }

    /// Every way `doc` breaks the specification: the schema first, then the rest.
    pub fn problems(&self, doc: &Value) -> Vec<String> {
        if let Err(error) = self.schemas.validate(doc, self.index) {
            return vec![format!("{error:#}")];
        }
        beyond_the_schema(doc, now_ms())
    }
}

/// The specification's rules that its schema cannot express: every name in a dimension set is
/// a root member with a string value (at most 1024 characters), every metric name a root member
/// that is a number or an array of at most 100 numbers; at most 30 dimensions a set and 100
/// metric definitions a directive; and, for documents written now, a timestamp within a minute.
fn beyond_the_schema(doc: &Value, now_ms: i64) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(root) = doc.as_object() else {
        return vec!["not an object".into()];
    };
    let aws = &doc["_aws"];
    match aws["Timestamp"].as_i64() {
        Some(ts) if (ts - now_ms).abs() <= 60_000 => {}
        other => problems.push(format!(
            "_aws.Timestamp {other:?} is not within a minute of now ({now_ms})"
        )),
    }
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (i, directive) in directives.iter().enumerate() {
        let at = format!("CloudWatchMetrics[{i}]");
        for set in directive["Dimensions"].as_array().into_iter().flatten() {
            let names = set.as_array().cloned().unwrap_or_default();
            if names.len() > 30 {
                problems.push(format!(
                    "{at}: a dimension set of {} dimensions",
                    names.len()
                ));
            }
            for name in names.iter().filter_map(Value::as_str) {
                match root.get(name) {
                    Some(Value::String(value)) if value.chars().count() <= 1024 => {}
                    Some(other) => problems.push(format!(
                        "{at}: dimension {name} is {other}, not a string of at most 1024 characters"
                    )),
                    None => problems.push(format!("{at}: dimension {name} has no root member")),
                }
            }
        }
        let metrics = directive["Metrics"].as_array().cloned().unwrap_or_default();
        if metrics.len() > 100 {
            problems.push(format!("{at}: {} metric definitions", metrics.len()));
        }
        for name in metrics.iter().filter_map(|m| m["Name"].as_str()) {
            match root.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values))
                    if values.len() <= 100 && values.iter().all(Value::is_number) => {}
                Some(other) => problems.push(format!(
                    "{at}: metric {name} is {other}, not a number or an array of at most 100 numbers"
                )),
                None => problems.push(format!("{at}: metric {name} has no root member")),
            }
        }
    }
    problems
}

/// Now as an EMF `_aws.Timestamp`: milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

/// What the documents recorded so far emit, as CloudWatch would file it:
/// (metric, dimension names) → dimension → values.
#[derive(Debug, Default)]
pub struct Observed(
    pub(crate) BTreeMap<(String, BTreeSet<String>), BTreeMap<String, BTreeSet<String>>>,
);

impl Observed {
    pub fn record(&mut self, doc: &Value) {
        for directive in doc["_aws"]["CloudWatchMetrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for set in directive["Dimensions"].as_array().into_iter().flatten() {
                let names: BTreeSet<String> =
                    set.as_array().into_iter().flatten().map(text).collect();
                for metric in directive["Metrics"].as_array().into_iter().flatten() {
                    let values = self
                        .0
                        .entry((text(&metric["Name"]), names.clone()))
                        .or_default();
                    for name in &names {
                        values
                            .entry(name.clone())
                            .or_default()
                            .insert(text(&doc[name]));
                    }
                }
            }
        }
    }

    /// How many (metric, dimension names) pairs were emitted.
    pub fn pairs(&self) -> usize {
        self.0.len()
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}
