//! The OpenAPI document, and a validator for the part of JSON Schema it uses.
//!
//! Written here rather than taken from a crate: the spec uses a dozen keywords, and a full
//! validator would bring ~30 crates (regex engines included) into every build. To stay honest,
//! the validator refuses any keyword it does not implement, so the spec cannot grow a
//! constraint that is silently left unchecked.

use serde_json::Value;
use std::collections::BTreeSet;

/// Keywords that only annotate (`contentSchema` too: JSON Schema does not assert it, and the
/// SSE test checks the events' data against it itself).
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "example",
    "examples",
    "default",
    "deprecated",
    "contentMediaType",
    "contentSchema",
];

pub struct Spec {
    pub doc: Value,
}

impl Spec {
    pub fn load() -> Spec {
        Spec {
            doc: serde_json::from_str(sportello_api::OPENAPI).expect("openapi.json is JSON"),
        }
    }

    /// Every (method, path) the spec documents, methods in lower case.
    pub fn operations(&self) -> Vec<(String, String)> {
        let mut operations = Vec::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                if ["get", "post", "put", "patch", "delete", "head", "options"]
                    .contains(&method.as_str())
                {
                    operations.push((method.clone(), path.clone()));
                }
            }
        }
        operations.sort();
        operations
    }

    pub fn operation(&self, method: &str, path: &str) -> &Value {
        let operation = &self.doc["paths"][path][method];
        assert!(operation.is_object(), "the spec has no {method} {path}");
        operation
    }

    /// Checks that the spec documents `status` for this operation, that the body is of a
    /// documented media type, and that it matches that media type's schema. Returns the body
    /// as JSON when it is JSON.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: &str,
        body: &[u8],
    ) -> Option<Value> {
        let responses = &self.operation(method, path)["responses"];
        let response = responses
            .get(status.to_string())
            .or_else(|| responses.get("default"))
            .unwrap_or_else(|| panic!("{method} {path}: status {status} is not documented"));
        let response = self.resolve(response);
        let essence = content_type.split(';').next().unwrap_or("").trim();
        let Some(content) = response.get("content") else {
            assert!(
                body.is_empty(),
                "{method} {path} {status}: a body the spec does not describe"
            );
            return None;
        };
        let media = content.get(essence).unwrap_or_else(|| {
            panic!("{method} {path} {status}: media type `{essence}` is not documented")
        });
        let schema = media.get("schema").expect("a schema");
        let value = if essence == "application/json" {
            serde_json::from_slice(body).unwrap_or_else(|e| {
                panic!(
                    "{method} {path} {status}: not JSON: {e}: {}",
                    String::from_utf8_lossy(body)
                )
            })
        } else {
            Value::String(String::from_utf8_lossy(body).into_owned())
        };
        let errors = self.validate(schema, &value);
        assert!(
            errors.is_empty(),
            "{method} {path} {status}: the answer does not match the spec:\n  {}\n{}",
            errors.join("\n  "),
            serde_json::to_string_pretty(&value).unwrap()
        );
        (essence == "application/json").then_some(value)
    }

    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(pointer) => {
                let pointer = pointer.strip_prefix('#').expect("local references only");
                self.doc
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("dangling $ref {pointer}"))
            }
            None => value,
        }
    }

    /// A named component schema.
    pub fn schema(&self, name: &str) -> &Value {
        let schema = &self.doc["components"]["schemas"][name];
        assert!(schema.is_object(), "no schema {name}");
        schema
    }

    /// The problems of `value` against `schema`, each with its JSON pointer; none when valid.
    pub fn validate(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, value, "", &mut errors);
        errors
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(keywords) = schema.as_object() else {
            if schema == &Value::Bool(false) {
                errors.push(format!("{at}: nothing is allowed here"));
            }
            return;
        };
        for (keyword, argument) in keywords {
            match keyword.as_str() {
                "$ref" => self.check(self.resolve(schema), value, at, errors),
                "type" => {
                    let allowed: Vec<&str> = match argument {
                        Value::String(t) => vec![t.as_str()],
                        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                        _ => panic!("bad type keyword at {at}"),
                    };
                    if !allowed.iter().any(|t| is_type(value, t)) {
                        errors.push(format!("{at}: expected {allowed:?}, found {value}"));
                    }
                }
                "properties" => {
                    if let Some(object) = value.as_object() {
                        for (name, sub) in argument.as_object().expect("properties") {
                            if let Some(item) = object.get(name) {
                                self.check(sub, item, &format!("{at}/{name}"), errors);
                            }
                        }
                    }
                }
                "required" => {
                    if let Some(object) = value.as_object() {
                        for name in argument
                            .as_array()
                            .expect("required")
                            .iter()
                            .filter_map(Value::as_str)
                        {
                            if !object.contains_key(name) {
                                errors.push(format!("{at}: `{name}` is required"));
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let Some(object) = value.as_object() {
                        let known = keywords.get("properties").and_then(Value::as_object);
                        for (name, item) in object {
                            if known.is_some_and(|k| k.contains_key(name)) {
                                continue;
                            }
                            match argument {
                                Value::Bool(true) => {}
                                Value::Bool(false) => {
                                    errors.push(format!("{at}: `{name}` is not in the spec"))
                                }
                                sub => self.check(sub, item, &format!("{at}/{name}"), errors),
                            }
                        }
                    }
                }
                "items" => {
                    if let Some(items) = value.as_array() {
                        for (i, item) in items.iter().enumerate() {
                            self.check(argument, item, &format!("{at}/{i}"), errors);
                        }
                    }
                }
                "enum" => {
                    if !argument.as_array().expect("enum").contains(value) {
                        errors.push(format!("{at}: {value} is not one of {argument}"));
                    }
                }
                "const" => {
                    if argument != value {
                        errors.push(format!("{at}: {value} is not {argument}"));
                    }
                }
                "anyOf" | "oneOf" => {
                    let matching = argument
                        .as_array()
                        .expect("a list of schemas")
                        .iter()
                        .filter(|sub| self.validate(sub, value).is_empty())
                        .count();
                    let ok = if keyword == "oneOf" {
                        matching == 1
                    } else {
                        matching >= 1
                    };
                    if !ok {
                        errors.push(format!(
                            "{at}: {matching} of the {keyword} schemas match {value}"
                        ));
                    }
                }
                "allOf" => {
                    for sub in argument.as_array().expect("a list of schemas") {
                        self.check(sub, value, at, errors);
                    }
                }
                "format" => {
                    if let Some(text) = value.as_str() {
                        let ok = match argument.as_str().unwrap_or("") {
                            "uuid" => uuid::Uuid::parse_str(text).is_ok(),
                            "date-time" => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
                            "date" => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
                            "int64" => true,
                            other => {
                                panic!("format `{other}` at {at} is not checked by this validator")
                            }
                        };
                        if !ok {
                            errors.push(format!("{at}: `{text}` is not a {argument}"));
                        }
                    }
                }
                other if ANNOTATIONS.contains(&other) || other.starts_with("x-") => {}
                other => {
                    panic!("the spec uses `{other}` (at {at}), which this validator does not check")
                }
            }
        }
    }

    /// Every keyword of every schema a response can be checked against (following `$ref`s),
    /// for the check that the validator knows them all. Parameter and request-body schemas
    /// are for the clients and fuzzers that generate requests; this checker never reads them.
    pub fn keywords(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut seen = BTreeSet::new();
        for item in self.doc["paths"].as_object().expect("paths").values() {
            for operation in item.as_object().expect("path item").values() {
                let Some(responses) = operation.get("responses").and_then(Value::as_object) else {
                    continue;
                };
                for response in responses.values() {
                    let response = self.resolve(response);
                    if let Some(content) = response.get("content").and_then(Value::as_object) {
                        for media in content.values() {
                            if let Some(schema) = media.get("schema") {
                                self.collect(schema, &mut out, &mut seen);
                            }
                        }
                    }
                }
            }
        }
        out
    }

    fn collect(&self, schema: &Value, out: &mut BTreeSet<String>, seen: &mut BTreeSet<String>) {
        let Some(map) = schema.as_object() else {
            return;
        };
        for (keyword, argument) in map {
            out.insert(keyword.clone());
            match keyword.as_str() {
                "$ref" => {
                    let target = argument.as_str().expect("a reference").to_owned();
                    if seen.insert(target) {
                        self.collect(self.resolve(schema), out, seen);
                    }
                }
                "properties" => {
                    for sub in argument.as_object().expect("properties").values() {
                        self.collect(sub, out, seen);
                    }
                }
                "items" | "additionalProperties" => self.collect(argument, out, seen),
                "anyOf" | "oneOf" | "allOf" => {
                    for sub in argument.as_array().expect("a list of schemas") {
                        self.collect(sub, out, seen);
                    }
                }
                _ => {}
            }
        }
    }
}

fn is_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        other => panic!("unknown type `{other}`"),
    }
}

#[test]
fn the_validator_catches_what_it_claims_to() {
    let spec = Spec::load();
    let transition = spec.schema("Transition");
    let good = serde_json::json!({
        "seq": 1, "from": null, "to": "received", "actor": "citizen",
        "at": "2026-03-02T10:00:00Z", "details": {}
    });
    assert!(spec.validate(transition, &good).is_empty());
    let mut extra = good.clone();
    extra["surprise"] = serde_json::json!(1);
    assert!(!spec.validate(transition, &extra).is_empty(), "unknown key");
    let mut wrong = good.clone();
    wrong["to"] = serde_json::json!("teleported");
    assert!(!spec.validate(transition, &wrong).is_empty(), "enum");
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("actor");
    assert!(!spec.validate(transition, &missing).is_empty(), "required");
    let mut typed = good;
    typed["seq"] = serde_json::json!("1");
    assert!(!spec.validate(transition, &typed).is_empty(), "type");
}
