//! The JSON Schema published in `docs/output.md`, checked against every JSON
//! record the end-to-end tests see, so the document cannot drift from the
//! output.

use std::sync::OnceLock;

use serde_json::Value;

/// The schema block of `docs/output.md`, compiled once per test binary.
fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/output.md");
        let doc = std::fs::read_to_string(path).expect("read docs/output.md");
        let after = doc
            .split_once("JSON Schema (draft 2020-12):")
            .expect("docs/output.md introduces its JSON Schema")
            .1;
        let body = after
            .split_once("```json\n")
            .and_then(|(_, rest)| rest.split_once("\n```"))
            .expect("the schema is a json code block")
            .0;
        let schema: Value = serde_json::from_str(body).expect("the schema is valid JSON");
        jsonschema::draft202012::new(&schema).expect("the schema compiles")
    })
}

/// Panics, naming the first violation, unless `record` fits the schema.
#[track_caller]
pub fn check(record: &Value) {
    if let Err(e) = validator().validate(record) {
        panic!(
            "record breaks the schema of docs/output.md: {e} at {}: {record}",
            e.instance_path()
        );
    }
}

/// Whether `record` fits the schema (for tests of the schema itself).
pub fn fits(record: &Value) -> bool {
    validator().is_valid(record)
}
