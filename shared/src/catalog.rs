//! The declarative catalog of practice types (brief §5, §8), desk by desk.
//!
//! The catalog is data, not code: `shared/catalog.toml` is compiled in as the default and an
//! operator may point a deployment at another file. Either way it is checked as a whole when
//! loaded, so that a typo in the catalog stops the worker at start with the offending type and
//! key named, instead of rejecting citizens' practices later for reasons nobody can see.

use crate::domain::{content, media};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

/// The catalog shipped with the binary.
const EMBEDDED: &str = include_str!("../catalog.toml");

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog: cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("catalog: {0}")]
    Syntax(#[from] toml::de::Error),
    /// Every problem found, each naming its type and key.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// A thematic desk ("sportello tematico").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Desk {
    pub code: String,
    pub name: String,
}

/// A class of the titolario, as the segnatura's `Classifica` needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classification {
    /// Title and class, dot-separated (`6.3`), or a title alone when it has no classes (`14`).
    pub code: String,
    pub description: String,
}

/// Whether the back office answers at once or days later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Handling {
    Realtime,
    Deferred,
}

impl Handling {
    pub fn as_str(self) -> &'static str {
        match self {
            Handling::Realtime => "realtime",
            Handling::Deferred => "deferred",
        }
    }
}

impl fmt::Display for Handling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a data field's value must look (JSON in the submission).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// A non-blank string.
    Text,
    /// A calendar date written `YYYY-MM-DD`.
    Date,
    Integer,
    /// A number; as a string, either `.` or the Italian `,` separates the decimals.
    Decimal,
    Boolean,
    Email,
    /// A natural person's codice fiscale.
    TaxCode,
    Iban,
}

impl FieldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Date => "date",
            FieldKind::Integer => "integer",
            FieldKind::Decimal => "decimal",
            FieldKind::Boolean => "boolean",
            FieldKind::Email => "email",
            FieldKind::TaxCode => "tax_code",
            FieldKind::Iban => "iban",
        }
    }
}

fn required_by_default() -> bool {
    true
}

/// A type-specific data field of the submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// The key in the submission's `data` object.
    pub name: String,
    /// Italian, shown to the citizen.
    pub label: String,
    pub kind: FieldKind,
    #[serde(default = "required_by_default")]
    pub required: bool,
}

/// A document the practice may or must carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentSpec {
    /// Matches `SubmittedDocument::role`.
    pub role: String,
    /// Italian, shown to the citizen.
    pub label: String,
    pub required: bool,
    /// Checked against the content ([`media::sniff`]), never the file name.
    pub media_types: Vec<String>,
    pub max_bytes: u64,
}

impl DocumentSpec {
    pub fn allows(&self, media_type: &str) -> bool {
        self.media_types.iter().any(|allowed| allowed == media_type)
    }
}

/// What the law makes of the office's silence when the term runs out (L. 241/1990, art. 20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Silence {
    /// Silenzio-assenso (art. 20): the term passing with no outcome grants the request.
    Consent,
    /// Silenzio-rigetto: the term passing is a refusal the citizen may challenge.
    Refusal,
    /// Silenzio-inadempimento: the office is late, and the citizen has the remedies.
    Nothing,
}

impl Silence {
    pub fn as_str(self) -> &'static str {
        match self {
            Silence::Consent => "consent",
            Silence::Refusal => "refusal",
            Silence::Nothing => "nothing",
        }
    }

    /// Italian, for the citizen: what silence means for this procedure.
    pub fn meaning(self) -> &'static str {
        match self {
            Silence::Consent => {
                "silenzio-assenso: se entro il termine non riceve un provvedimento, la domanda è accolta (art. 20 L. 241/1990)"
            }
            Silence::Refusal => {
                "silenzio-rigetto: se entro il termine non riceve un provvedimento, la domanda si intende respinta"
            }
            Silence::Nothing => {
                "il silenzio non equivale ad accoglimento: se il termine passa senza provvedimento può attivare i rimedi indicati"
            }
        }
    }
}

impl fmt::Display for Silence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The longest term a rule may set (L. 241/1990, art. 2 c.4: 90 days, 180 in the cases named).
pub const MAX_TERM_DAYS: u32 = 180;

/// One kind of practice a citizen can file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeType {
    /// `<desk>.<name>`; part of the intake contract, so never renamed.
    pub code: String,
    pub desk: Desk,
    /// Italian, shown to the citizen.
    pub title: String,
    pub classification: Classification,
    /// The competent back office's id; its queue is declared in `queues.toml`.
    pub back_office: String,
    pub handling: Handling,
    pub physical_pickup: bool,
    pub requires_company: bool,
    /// The procedure's term in calendar days from the protocol date (L. 241/1990, art. 2):
    /// 30 unless a rule sets another, at most [`MAX_TERM_DAYS`]. Required: a type without a
    /// term is refused at load.
    pub term_days: u32,
    /// What the office's silence at the end of the term means.
    pub silence: Silence,
    /// The office responsible for the procedure (art. 8: "l'ufficio competente"), in Italian.
    pub office: String,
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
    #[serde(default)]
    pub documents: Vec<DocumentSpec>,
}

impl PracticeType {
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|field| field.name == name)
    }

    pub fn document(&self, role: &str) -> Option<&DocumentSpec> {
        self.documents.iter().find(|document| document.role == role)
    }
}

/// What a back office may send back as a result document (a certificate, a permit): checked
/// by content like a citizen's document, before it is registered, archived and emailed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResultPolicy {
    pub media_types: Vec<String>,
    pub max_bytes: u64,
}

impl Default for ResultPolicy {
    fn default() -> Self {
        ResultPolicy {
            media_types: vec![media::PDF.to_owned(), media::PKCS7.to_owned()],
            max_bytes: 4 * 1024 * 1024,
        }
    }
}

impl ResultPolicy {
    pub fn allows(&self, media_type: &str) -> bool {
        self.media_types.iter().any(|allowed| allowed == media_type)
    }
}

/// The file as written; it becomes a [`Catalog`] only once checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    /// Limits of the content check; defaults when the section is absent.
    #[serde(default)]
    content: content::Limits,
    #[serde(default)]
    results: ResultPolicy,
    #[serde(rename = "type", default)]
    types: Vec<PracticeType>,
}

/// A checked catalog. Deserializing one runs the same checks as [`Catalog::from_toml_str`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "CatalogFile", into = "CatalogFile")]
pub struct Catalog {
    content: content::Limits,
    results: ResultPolicy,
    types: Vec<PracticeType>,
    by_code: HashMap<String, usize>,
}

impl Catalog {
    pub fn from_toml_str(text: &str) -> Result<Catalog, CatalogError> {
        let file: CatalogFile = toml::from_str(text)?;
        Catalog::try_from(file)
    }

    pub fn load(path: impl AsRef<Path>) -> Result<Catalog, CatalogError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Io {
            path: path.to_owned(),
            source,
        })?;
        Catalog::from_toml_str(&text)
    }

    /// The catalog compiled into the binary. A `Result` although the file is known at build
    /// time, so that a broken edit is reported by the worker instead of panicking it.
    pub fn embedded() -> Result<Catalog, CatalogError> {
        Catalog::from_toml_str(EMBEDDED)
    }

    pub fn get(&self, code: &str) -> Option<&PracticeType> {
        self.by_code.get(code).map(|&index| &self.types[index])
    }

    /// What the content check allows a document (archive sizes, image dimensions).
    pub fn content_limits(&self) -> &content::Limits {
        &self.content
    }

    /// What result documents of back offices may be.
    pub fn results(&self) -> &ResultPolicy {
        &self.results
    }

    /// In the order of the file.
    pub fn types(&self) -> impl Iterator<Item = &PracticeType> {
        self.types.iter()
    }

    /// Every back office some type is routed to; each needs a queue.
    pub fn back_offices(&self) -> BTreeSet<&str> {
        self.types
            .iter()
            .map(|practice_type| practice_type.back_office.as_str())
            .collect()
    }

    /// Desk code → Italian name.
    pub fn desks(&self) -> BTreeMap<&str, &str> {
        self.types
            .iter()
            .map(|t| (t.desk.code.as_str(), t.desk.name.as_str()))
            .collect()
    }
}

impl TryFrom<CatalogFile> for Catalog {
    type Error = CatalogError;

    fn try_from(file: CatalogFile) -> Result<Self, Self::Error> {
        let mut problems = check(&file.types);
        problems.extend(
            file.content
                .problems()
                .into_iter()
                .map(|problem| format!("catalog: {problem}")),
        );
        problems.extend(check_results(&file.results));
        if !problems.is_empty() {
            return Err(CatalogError::Invalid(problems));
        }
        let by_code = file
            .types
            .iter()
            .enumerate()
            .map(|(index, practice_type)| (practice_type.code.clone(), index))
            .collect();
        Ok(Catalog {
            content: file.content,
            results: file.results,
            types: file.types,
            by_code,
        })
    }
}

impl From<Catalog> for CatalogFile {
    fn from(catalog: Catalog) -> Self {
        CatalogFile {
            content: catalog.content,
            results: catalog.results,
            types: catalog.types,
        }
    }
}

/// A lowercase snake_case identifier, the shape of every code, role and field name.
fn is_identifier(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// Every problem of the catalog, each as `catalog: type "<code>": <key>: <problem>`.
fn check(types: &[PracticeType]) -> Vec<String> {
    let mut problems = Vec::new();
    if types.is_empty() {
        problems.push("catalog: no [[type]] is declared".to_owned());
    }
    let mut seen_codes = BTreeSet::new();
    let mut desk_names: BTreeMap<&str, &str> = BTreeMap::new();

    for (index, practice_type) in types.iter().enumerate() {
        let context = if is_blank(&practice_type.code) {
            format!("catalog: type #{}", index + 1)
        } else {
            format!("catalog: type \"{}\"", practice_type.code)
        };
        let mut problem = |what: String| problems.push(format!("{context}: {what}"));

        let desk = &practice_type.desk;
        match practice_type.code.split_once('.') {
            Some((prefix, name)) if is_identifier(prefix) && is_identifier(name) => {
                if prefix != desk.code {
                    problem(format!(
                        "code must start with its desk code \"{}.\"",
                        desk.code
                    ));
                }
            }
            _ => problem("code must look like \"<desk>.<name>\" in lowercase snake_case".into()),
        }
        if !seen_codes.insert(practice_type.code.as_str()) {
            problem("code is declared more than once".into());
        }
        if !is_identifier(&desk.code) {
            problem("desk.code must be lowercase snake_case".into());
        }
        if is_blank(&desk.name) {
            problem("desk.name must not be empty".into());
        }
        match desk_names.get(desk.code.as_str()) {
            Some(&name) if name != desk.name => problem(format!(
                "desk.name differs from the name \"{name}\" given to desk \"{}\" before",
                desk.code
            )),
            Some(_) => {}
            None => {
                desk_names.insert(&desk.code, &desk.name);
            }
        }
        if is_blank(&practice_type.title) {
            problem("title must not be empty".into());
        }
        let class = &practice_type.classification;
        if !is_titolario_code(&class.code) {
            problem("classification.code must be numbers separated by dots, like \"6.3\"".into());
        }
        if is_blank(&class.description) {
            problem("classification.description must not be empty".into());
        }
        if practice_type.term_days == 0 || practice_type.term_days > MAX_TERM_DAYS {
            problem(format!(
                "term_days must be between 1 and {MAX_TERM_DAYS} (L. 241/1990, art. 2)"
            ));
        }
        if is_blank(&practice_type.office) {
            problem("office must name the responsible office".into());
        }
        match practice_type.back_office.strip_prefix("bo.") {
            Some(name) if is_identifier(name) => {}
            _ => problem("back_office must look like \"bo.<name>\"".into()),
        }

        let mut field_names = BTreeSet::new();
        for field in &practice_type.fields {
            let key = format!("field \"{}\"", field.name);
            if !is_identifier(&field.name) {
                problem(format!("{key}: name must be lowercase snake_case"));
            }
            if !field_names.insert(field.name.as_str()) {
                problem(format!("{key}: declared more than once"));
            }
            if is_blank(&field.label) {
                problem(format!("{key}: label must not be empty"));
            }
        }

        let mut roles = BTreeSet::new();
        for document in &practice_type.documents {
            let key = format!("document \"{}\"", document.role);
            if !is_identifier(&document.role) {
                problem(format!("{key}: role must be lowercase snake_case"));
            }
            if !roles.insert(document.role.as_str()) {
                problem(format!("{key}: declared more than once"));
            }
            if is_blank(&document.label) {
                problem(format!("{key}: label must not be empty"));
            }
            if document.media_types.is_empty() {
                problem(format!("{key}: media_types must list at least one type"));
            }
            for media_type in &document.media_types {
                if !media::KNOWN_MEDIA_TYPES.contains(&media_type.as_str()) {
                    problem(format!(
                        "{key}: media type \"{media_type}\" is not one the content check knows ({})",
                        media::KNOWN_MEDIA_TYPES.join(", ")
                    ));
                }
            }
            if document.max_bytes == 0 {
                problem(format!("{key}: max_bytes must be > 0"));
            }
        }
    }
    problems
}

fn check_results(results: &ResultPolicy) -> Vec<String> {
    let mut problems = Vec::new();
    if results.media_types.is_empty() {
        problems.push("catalog: results.media_types must list at least one type".to_owned());
    }
    for media_type in &results.media_types {
        if !media::KNOWN_MEDIA_TYPES.contains(&media_type.as_str()) {
            problems.push(format!(
                "catalog: results.media_types: \"{media_type}\" is not one the content check knows"
            ));
        }
    }
    if results.max_bytes == 0 {
        problems.push("catalog: results.max_bytes must be > 0".to_owned());
    }
    problems
}

fn is_titolario_code(code: &str) -> bool {
    code.split('.')
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests;
