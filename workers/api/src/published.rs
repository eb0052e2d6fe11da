//! The catalog as the outside world reads it: every practice type with its desk, title,
//! fields, documents, handling and pickup, and a JSON Schema of its submission.
//!
//! Why it exists: the cruscotto, the citizen's pages and any portal build their forms from this
//! one description, made from the same [`Catalog`] validation reads and stating the same limits
//! validation enforces, so a form and its validation cannot drift apart. What is internal to
//! the fleet (the back office a type is routed to) is left out.

use serde::Serialize;
use serde_json::{Value, json};
use sportello_shared::catalog::{Catalog, DocumentSpec, FieldKind, FieldSpec, PracticeType};
use sportello_shared::domain::contract::{
    MAX_IDEMPOTENCY_KEY_CHARS, MAX_NAME_CHARS, MAX_OPERATOR_ID_CHARS, MAX_SUBJECT_CHARS,
    MAX_TEXT_FIELD_CHARS,
};
use sportello_shared::domain::submission::SUBMISSION_SCHEMA_VERSION;

/// `GET /catalog`.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedCatalog {
    pub desks: Vec<PublishedDesk>,
    pub types: Vec<PublishedType>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublishedDesk {
    pub code: String,
    pub name: String,
}

/// One type, `GET /catalog/{type}`.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedType {
    pub code: String,
    pub desk: PublishedDesk,
    pub title: String,
    pub classification: sportello_shared::catalog::Classification,
    pub handling: &'static str,
    pub physical_pickup: bool,
    pub requires_company: bool,
    /// The term in days (L. 241/1990 art. 2), from the protocol date.
    pub term_days: u32,
    /// What silence at the end of the term means: `consent`, `refusal`, `nothing`.
    pub silence: &'static str,
    /// The same, in Italian, as the receipt says it.
    pub silence_meaning: &'static str,
    /// The office responsible for the procedure (art. 8).
    pub office: String,
    pub fields: Vec<PublishedField>,
    pub documents: Vec<PublishedDocument>,
    /// A JSON Schema (2020-12) of a first submission of this type (not an integration).
    pub submission_schema: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublishedField {
    pub name: String,
    pub label: String,
    pub kind: &'static str,
    pub required: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublishedDocument {
    pub role: String,
    pub label: String,
    pub required: bool,
    pub media_types: Vec<String>,
    pub max_bytes: u64,
}

/// The whole catalog, in the file's order; desks in order of first appearance.
pub fn catalog(catalog: &Catalog) -> PublishedCatalog {
    let mut desks: Vec<PublishedDesk> = Vec::new();
    for t in catalog.types() {
        if !desks.iter().any(|d| d.code == t.desk.code) {
            desks.push(PublishedDesk {
                code: t.desk.code.clone(),
                name: t.desk.name.clone(),
            });
        }
    }
    PublishedCatalog {
        desks,
        types: catalog.types().map(practice_type).collect(),
    }
}

pub fn practice_type(t: &PracticeType) -> PublishedType {
    PublishedType {
        code: t.code.clone(),
        desk: PublishedDesk {
            code: t.desk.code.clone(),
            name: t.desk.name.clone(),
        },
        title: t.title.clone(),
        classification: t.classification.clone(),
        handling: t.handling.as_str(),
        physical_pickup: t.physical_pickup,
        requires_company: t.requires_company,
        term_days: t.term_days,
        silence: t.silence.as_str(),
        silence_meaning: t.silence.meaning(),
        office: t.office.clone(),
        fields: t
            .fields
            .iter()
            .map(|f| PublishedField {
                name: f.name.clone(),
                label: f.label.clone(),
                kind: f.kind.as_str(),
                required: f.required,
            })
            .collect(),
        documents: t.documents.iter().map(document).collect(),
        submission_schema: submission_schema(t),
    }
}

fn document(d: &DocumentSpec) -> PublishedDocument {
    PublishedDocument {
        role: d.role.clone(),
        label: d.label.clone(),
        required: d.required,
        media_types: d.media_types.clone(),
        max_bytes: d.max_bytes,
    }
}

/// What a value of `kind` may be, as validation reads it (`rules::check_value`): integers and
/// decimals also as strings (forms send strings; Italians write a decimal comma).
pub fn field_schema(field: &FieldSpec) -> Value {
    let mut schema = match field.kind {
        FieldKind::Text => {
            json!({"type": "string", "minLength": 1, "maxLength": MAX_TEXT_FIELD_CHARS})
        }
        FieldKind::Date => {
            json!({"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"})
        }
        FieldKind::Integer => json!({"anyOf": [
            {"type": "integer"},
            {"type": "string", "pattern": "^\\s*[-+]?[0-9]{1,18}\\s*$"}
        ]}),
        FieldKind::Decimal => json!({"anyOf": [
            {"type": "number"},
            {"type": "string", "pattern": "^\\s*[-+]?[0-9]+([.,][0-9]+)?\\s*$"}
        ]}),
        FieldKind::Boolean => json!({"type": "boolean"}),
        FieldKind::Email => json!({"type": "string", "format": "email"}),
        FieldKind::TaxCode => json!({"type": "string", "pattern": "^\\s*[A-Za-z0-9]{16}\\s*$"}),
        FieldKind::Iban => {
            json!({"type": "string", "pattern": "^\\s*[A-Za-z]{2}[0-9]{2}[A-Za-z0-9 ]{10,40}\\s*$"})
        }
    };
    let object = schema.as_object_mut().expect("an object");
    object.insert("title".into(), Value::from(field.label.clone()));
    object.insert("x-kind".into(), Value::from(field.kind.as_str()));
    schema
}

fn name_schema() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS})
}

/// The submission (contract v1) of a first practice of type `t`.
pub fn submission_schema(t: &PracticeType) -> Value {
    let data_properties: serde_json::Map<String, Value> = t
        .fields
        .iter()
        .map(|f| (f.name.clone(), field_schema(f)))
        .collect();
    let data_required: Vec<&str> = t
        .fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name.as_str())
        .collect();
    let roles: Vec<&str> = t.documents.iter().map(|d| d.role.as_str()).collect();
    // Each required role must appear among the documents.
    let required_documents: Vec<Value> = t
        .documents
        .iter()
        .filter(|d| d.required)
        .map(|d| json!({"contains": {"properties": {"role": {"const": d.role}}}}))
        .collect();
    let mut documents = json!({
        "type": "array",
        "items": {
            "type": "object",
            "additionalProperties": false,
            "required": ["role", "file_name", "media_type", "sha256"],
            "properties": {
                "role": {"enum": roles},
                "file_name": {"type": "string", "minLength": 1},
                "media_type": {"type": "string"},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "content_base64": {"type": "string", "contentEncoding": "base64"},
                "staged_key": {"type": "string"}
            },
            "oneOf": [
                {"required": ["content_base64"]},
                {"required": ["staged_key"]}
            ]
        }
    });
    if !required_documents.is_empty() {
        documents["allOf"] = Value::Array(required_documents);
    }
    let mut applicant_required = vec!["tax_code", "given_name", "family_name", "email"];
    if t.requires_company {
        applicant_required.push("company");
    }
    let mut required = vec![
        "schema_version",
        "idempotency_key",
        "channel",
        "practice_type",
        "applicant",
        "subject",
    ];
    if !data_required.is_empty() {
        required.push("data");
    }
    if t.documents.iter().any(|d| d.required) {
        required.push("documents");
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("/catalog/{}#submission", t.code),
        "title": t.title,
        "description": "Una prima domanda di questo tipo (contratto v1). Un'integrazione \
            (integrates) non ripete i dati del modulo e può aggiungere documenti di ruolo \
            «integrazione».",
        "type": "object",
        "additionalProperties": false,
        "required": required,
        "properties": {
            "schema_version": {"const": SUBMISSION_SCHEMA_VERSION},
            "idempotency_key": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY_CHARS},
            "channel": {"oneOf": [
                {"type": "object", "additionalProperties": false, "required": ["kind"],
                 "properties": {"kind": {"const": "portal"}}},
                {"type": "object", "additionalProperties": false, "required": ["kind", "operator_id"],
                 "properties": {"kind": {"const": "counter"},
                                "operator_id": {"type": "string", "minLength": 1, "maxLength": MAX_OPERATOR_ID_CHARS}}}
            ]},
            "practice_type": {"const": t.code},
            "applicant": {
                "type": "object",
                "additionalProperties": false,
                "required": applicant_required,
                "properties": {
                    "tax_code": {"type": "string", "pattern": "^\\s*[A-Za-z0-9]{16}\\s*$"},
                    "given_name": name_schema(),
                    "family_name": name_schema(),
                    "email": {"type": "string", "format": "email"},
                    "pec": {"type": "string", "format": "email"},
                    "company": {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["name", "vat_number"],
                        "properties": {
                            "name": name_schema(),
                            "vat_number": {"type": "string", "pattern": "^\\s*[0-9]{11}\\s*$"}
                        }
                    }
                }
            },
            "subject": {"type": "string", "minLength": 1, "maxLength": MAX_SUBJECT_CHARS},
            "data": {
                "type": "object",
                "properties": data_properties,
                "required": data_required
            },
            "documents": documents,
            "integrates": {"type": "string", "format": "uuid"}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reasons validation gives a submission of `anagrafe.cambio_residenza` whose given
    /// name and address have these lengths, by the field they are about.
    fn refused_fields(name_chars: usize, text_chars: usize) -> Vec<String> {
        use sportello_shared::domain::submission::{Applicant, Channel, Submission};
        let catalog = Catalog::embedded().unwrap();
        let sub = Submission {
            schema_version: SUBMISSION_SCHEMA_VERSION,
            idempotency_key: "limits".to_owned(),
            channel: Channel::Portal,
            practice_type: "anagrafe.cambio_residenza".to_owned(),
            applicant: Applicant {
                tax_code: "RSSMRA85M01A794Q".to_owned(),
                given_name: "M".repeat(name_chars),
                family_name: "Rossi".to_owned(),
                email: "mario.rossi@example.it".to_owned(),
                pec: None,
                company: None,
            },
            subject: "Cambio di residenza".to_owned(),
            data: json!({"indirizzo": "V".repeat(text_chars)})
                .as_object()
                .cloned()
                .unwrap(),
            documents: Vec::new(),
            integrates: None,
        };
        sportello_validation::rules::check(&sub, &[], &catalog)
            .reasons()
            .iter()
            .filter_map(|r| r.field.clone())
            .collect()
    }

    #[test]
    fn the_schemas_limits_are_validations() {
        let at_limit = refused_fields(MAX_NAME_CHARS, MAX_TEXT_FIELD_CHARS);
        assert!(
            !at_limit
                .iter()
                .any(|f| f == "applicant.given_name" || f == "indirizzo")
        );
        let beyond = refused_fields(MAX_NAME_CHARS + 1, MAX_TEXT_FIELD_CHARS + 1);
        assert!(
            beyond.iter().any(|f| f == "applicant.given_name"),
            "{beyond:?}"
        );
        assert!(beyond.iter().any(|f| f == "indirizzo"), "{beyond:?}");
    }

    #[test]
    fn every_type_is_published_with_its_fields_documents_and_schema() {
        let embedded = Catalog::embedded().unwrap();
        let published = catalog(&embedded);
        assert_eq!(published.types.len(), embedded.types().count());
        assert_eq!(published.desks.len(), embedded.desks().len());
        for (t, p) in embedded.types().zip(&published.types) {
            assert_eq!(p.code, t.code);
            assert_eq!(p.fields.len(), t.fields.len());
            assert_eq!(p.documents.len(), t.documents.len());
            let schema = &p.submission_schema;
            assert_eq!(
                schema["properties"]["practice_type"]["const"],
                t.code.as_str()
            );
            let required: Vec<&str> = schema["properties"]["data"]["required"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let expected: Vec<&str> = t
                .fields
                .iter()
                .filter(|f| f.required)
                .map(|f| f.name.as_str())
                .collect();
            assert_eq!(required, expected, "{}", t.code);
            assert_eq!(
                schema["required"]
                    .as_array()
                    .unwrap()
                    .contains(&Value::from("documents")),
                t.documents.iter().any(|d| d.required),
                "{}",
                t.code
            );
        }
        // Nothing internal leaks.
        let text = serde_json::to_string(&published).unwrap();
        assert!(!text.contains("\"bo."), "back offices are internal");
    }
}
