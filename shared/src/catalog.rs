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
mod tests {
    use super::*;

    /// The desks of brief §8, by the code the catalog gives them.
    const DESKS: &[&str] = &[
        "anagrafe",
        "stato_civile",
        "elettorale",
        "tributi",
        "edilizia",
        "suap",
        "sociale",
        "scuola",
        "mobilita",
        "suolo_pubblico",
        "ambiente",
        "cimiteri",
        "cultura",
        "lavori_pubblici",
        "accesso_atti",
        "protocollo",
    ];

    fn embedded() -> Catalog {
        Catalog::embedded().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn embedded_catalog_loads() {
        let catalog = embedded();
        assert!(catalog.types().count() >= 25);
        let cila = catalog.get("edilizia.cila").unwrap();
        assert_eq!(cila.back_office, "bo.edilizia");
        assert_eq!(cila.classification.code, "6.3");
        assert!(cila.document("elaborati").unwrap().allows(media::PDF));
        assert!(catalog.get("edilizia.nonexistent").is_none());
    }

    #[test]
    fn embedded_catalog_covers_every_desk() {
        let catalog = embedded();
        let desks = catalog.desks();
        for desk in DESKS {
            assert!(desks.contains_key(desk), "desk {desk} has no type");
        }
        assert_eq!(desks.len(), DESKS.len(), "{desks:?}");
    }

    #[test]
    fn the_brief_s_types_are_there_with_their_flags() {
        let catalog = embedded();
        for (code, handling, pickup, company) in [
            (
                "anagrafe.cambio_residenza",
                Handling::Deferred,
                false,
                false,
            ),
            (
                "anagrafe.certificato_anagrafico",
                Handling::Realtime,
                false,
                false,
            ),
            (
                "stato_civile.estratto_nascita",
                Handling::Realtime,
                false,
                false,
            ),
            (
                "stato_civile.pubblicazioni_matrimonio",
                Handling::Deferred,
                false,
                false,
            ),
            (
                "elettorale.duplicato_tessera",
                Handling::Deferred,
                true,
                false,
            ),
            ("tributi.iscrizione_tari", Handling::Deferred, false, false),
            ("tributi.rimborso_imu", Handling::Deferred, false, false),
            ("edilizia.cila", Handling::Deferred, false, false),
            ("edilizia.scia", Handling::Deferred, false, false),
            ("suap.apertura_negozio", Handling::Deferred, false, true),
            (
                "sociale.contributo_affitto",
                Handling::Deferred,
                false,
                false,
            ),
            ("scuola.iscrizione_mensa", Handling::Deferred, false, false),
            (
                "scuola.iscrizione_trasporto",
                Handling::Deferred,
                false,
                false,
            ),
            ("mobilita.permesso_ztl", Handling::Deferred, false, false),
            (
                "mobilita.contrassegno_disabili",
                Handling::Deferred,
                true,
                false,
            ),
            ("mobilita.passo_carrabile", Handling::Deferred, false, false),
            (
                "suolo_pubblico.occupazione",
                Handling::Deferred,
                false,
                false,
            ),
            (
                "ambiente.ritiro_ingombranti",
                Handling::Deferred,
                false,
                false,
            ),
            (
                "cimiteri.concessione_loculo",
                Handling::Deferred,
                false,
                false,
            ),
            ("cultura.uso_sale", Handling::Deferred, false, false),
            (
                "lavori_pubblici.segnalazione",
                Handling::Deferred,
                false,
                false,
            ),
            ("accesso_atti.foia", Handling::Deferred, false, false),
            (
                "protocollo.istanza_generica",
                Handling::Deferred,
                false,
                false,
            ),
        ] {
            let practice_type = catalog
                .get(code)
                .unwrap_or_else(|| panic!("{code} missing"));
            assert_eq!(practice_type.handling, handling, "{code}");
            assert_eq!(practice_type.physical_pickup, pickup, "{code}");
            assert_eq!(practice_type.requires_company, company, "{code}");
        }
    }

    #[test]
    fn back_offices_are_a_dozen_or_more() {
        let catalog = embedded();
        let back_offices = catalog.back_offices();
        assert!((12..=16).contains(&back_offices.len()), "{back_offices:?}");
        for id in [
            "bo.anagrafe",
            "bo.tributi",
            "bo.edilizia",
            "bo.suap",
            "bo.protocollo",
        ] {
            assert!(back_offices.contains(id), "{id}");
        }
    }

    #[test]
    fn identity_documents_and_drawings_have_realistic_limits() {
        let catalog = embedded();
        for practice_type in catalog.types() {
            if let Some(identity) = practice_type.document("documento_identita") {
                assert_eq!(
                    identity.max_bytes,
                    5 * 1024 * 1024,
                    "{}",
                    practice_type.code
                );
                assert!(identity.allows(media::JPEG) && identity.allows(media::PDF));
            }
        }
        let elaborati = catalog
            .get("edilizia.cila")
            .unwrap()
            .document("elaborati")
            .unwrap();
        assert_eq!(elaborati.max_bytes, 50 * 1024 * 1024);
    }

    #[test]
    fn serde_round_trips_through_the_checks() {
        let catalog = embedded();
        let json = serde_json::to_string(&catalog).unwrap();
        let back: Catalog = serde_json::from_str(&json).unwrap();
        assert_eq!(back.types().count(), catalog.types().count());
        assert_eq!(back.get("edilizia.cila"), catalog.get("edilizia.cila"));
        let text = toml::to_string(&catalog).unwrap();
        assert!(Catalog::from_toml_str(&text).is_ok());
    }

    const GOOD: &str = r#"
        [[type]]
        code = "edilizia.cila"
        desk = { code = "edilizia", name = "Edilizia privata" }
        title = "CILA"
        classification = { code = "6.3", description = "Edilizia privata" }
        back_office = "bo.edilizia"
        handling = "deferred"
        physical_pickup = false
        requires_company = false
        term_days = 30
        silence = "consent"
        office = "Ufficio edilizia privata"
        fields = [{ name = "indirizzo", label = "Indirizzo", kind = "text" }]
        documents = [
          { role = "elaborati", label = "Elaborati grafici", required = true, media_types = ["application/pdf"], max_bytes = 52428800 },
        ]
    "#;

    fn error_of(text: &str) -> String {
        match Catalog::from_toml_str(text) {
            Ok(_) => panic!("catalog accepted:\n{text}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn a_minimal_catalog_loads() {
        let catalog = Catalog::from_toml_str(GOOD).unwrap();
        assert!(
            catalog
                .get("edilizia.cila")
                .unwrap()
                .field("indirizzo")
                .unwrap()
                .required
        );
    }

    #[test]
    fn a_broken_catalog_names_the_type_and_key() {
        let zero = GOOD.replace("max_bytes = 52428800", "max_bytes = 0");
        assert_eq!(
            error_of(&zero),
            "catalog: type \"edilizia.cila\": document \"elaborati\": max_bytes must be > 0"
        );
        let unknown_media = GOOD.replace("[\"application/pdf\"]", "[\"application/msword\"]");
        let error = error_of(&unknown_media);
        assert!(
            error.starts_with(
                "catalog: type \"edilizia.cila\": document \"elaborati\": media type \"application/msword\""
            ),
            "{error}"
        );
        let empty_label = GOOD.replace("label = \"Indirizzo\"", "label = \" \"");
        assert_eq!(
            error_of(&empty_label),
            "catalog: type \"edilizia.cila\": field \"indirizzo\": label must not be empty"
        );
        let no_media = GOOD.replace("[\"application/pdf\"]", "[]");
        assert!(error_of(&no_media).contains("document \"elaborati\": media_types must list"));
    }

    #[test]
    fn duplicates_and_mismatches_are_refused() {
        let twice = format!("{GOOD}\n{GOOD}");
        assert!(
            error_of(&twice)
                .contains("catalog: type \"edilizia.cila\": code is declared more than once")
        );
        let other_desk = GOOD.replace("code = \"edilizia.cila\"", "code = \"suap.cila\"");
        assert!(
            error_of(&other_desk)
                .contains("type \"suap.cila\": code must start with its desk code")
        );
        let renamed_desk = format!(
            "{GOOD}\n{}",
            GOOD.replace("edilizia.cila", "edilizia.scia")
                .replace("name = \"Edilizia privata\"", "name = \"Edilizia\"")
        );
        assert!(error_of(&renamed_desk).contains("type \"edilizia.scia\": desk.name differs"));
        let bad_class = GOOD.replace("code = \"6.3\"", "code = \"VI.3\"");
        assert!(error_of(&bad_class).contains("type \"edilizia.cila\": classification.code"));
        let bad_office = GOOD.replace("\"bo.edilizia\"", "\"edilizia\"");
        assert!(error_of(&bad_office).contains("type \"edilizia.cila\": back_office"));
    }

    #[test]
    fn a_type_without_a_term_is_refused() {
        let error = error_of(&GOOD.replace("term_days = 30\n", ""));
        assert!(error.contains("term_days"), "{error}");
        let zero = error_of(&GOOD.replace("term_days = 30", "term_days = 0"));
        assert!(
            zero.contains("term_days must be between 1 and 180"),
            "{zero}"
        );
        let long = error_of(&GOOD.replace("term_days = 30", "term_days = 181"));
        assert!(
            long.contains("term_days must be between 1 and 180"),
            "{long}"
        );
        let error = error_of(&GOOD.replace("silence = \"consent\"\n", ""));
        assert!(error.contains("silence"), "{error}");
        let error = error_of(&GOOD.replace("silence = \"consent\"", "silence = \"maybe\""));
        assert!(error.contains("maybe"), "{error}");
        let error = error_of(&GOOD.replace("\"Ufficio edilizia privata\"", "\" \""));
        assert!(error.contains("office must name"), "{error}");
    }

    #[test]
    fn every_embedded_type_has_a_lawful_term() {
        let catalog = embedded();
        for practice_type in catalog.types() {
            assert!(
                (1..=MAX_TERM_DAYS).contains(&practice_type.term_days),
                "{}",
                practice_type.code
            );
        }
        // Silenzio-assenso where the law says so, and not for certificates or SCIA/CILA.
        let consent: Vec<&str> = catalog
            .types()
            .filter(|t| t.silence == Silence::Consent)
            .map(|t| t.code.as_str())
            .collect();
        assert!(consent.contains(&"mobilita.passo_carrabile"), "{consent:?}");
        assert!(!consent.contains(&"edilizia.scia"), "{consent:?}");
        assert_eq!(
            catalog
                .get("accesso_atti.accesso_documentale")
                .unwrap()
                .silence,
            Silence::Refusal
        );
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let broken = GOOD
            .replace("max_bytes = 52428800", "max_bytes = 0")
            .replace("title = \"CILA\"", "title = \"\"");
        let error = error_of(&broken);
        assert!(error.contains("title must not be empty"), "{error}");
        assert!(error.contains("max_bytes must be > 0"), "{error}");
    }

    #[test]
    fn unknown_keys_and_values_are_refused() {
        let extra = GOOD.replace(
            "handling = \"deferred\"",
            "handling = \"deferred\"\nurgent = true",
        );
        let error = error_of(&extra);
        assert!(error.contains("urgent"), "{error}");
        let bad_kind = GOOD.replace("kind = \"text\"", "kind = \"string\"");
        let error = error_of(&bad_kind);
        assert!(
            error.contains("string") && error.contains("kind"),
            "{error}"
        );
        let bad_handling = GOOD.replace("\"deferred\"", "\"later\"");
        assert!(error_of(&bad_handling).contains("later"));
        assert!(error_of("").contains("no [[type]]"));
    }

    #[test]
    fn content_limits_and_result_policy_load_with_defaults() {
        let catalog = Catalog::from_toml_str(GOOD).unwrap();
        assert_eq!(catalog.content_limits(), &content::Limits::default());
        assert!(catalog.results().allows(media::PDF));
        assert!(!catalog.results().allows(media::ZIP));
        let embedded = embedded();
        assert_eq!(embedded.content_limits().zip.max_depth, 2);
        assert_eq!(
            embedded.content_limits().zip.max_uncompressed_bytes,
            100 * 1024 * 1024
        );
        assert_eq!(embedded.results().max_bytes, 4 * 1024 * 1024);
        let tuned = format!(
            "[content]\nmax_image_side = 8000\n[content.zip]\nmax_ratio = 50\n\
             [results]\nmedia_types = [\"application/pdf\"]\nmax_bytes = 1000\n{GOOD}"
        );
        let tuned = Catalog::from_toml_str(&tuned).unwrap();
        assert_eq!(tuned.content_limits().max_image_side, 8000);
        assert_eq!(tuned.content_limits().zip.max_ratio, 50);
        assert_eq!(
            tuned.content_limits().zip.max_entries,
            1000,
            "the rest keeps its default"
        );
        assert!(!tuned.results().allows(media::PKCS7));
    }

    #[test]
    fn unusable_content_limits_and_result_policies_are_refused() {
        let zero = format!("[content.zip]\nmax_depth = 0\n{GOOD}");
        assert_eq!(
            error_of(&zero),
            "catalog: content.zip.max_depth must be > 0"
        );
        let unknown = format!("[content]\nmax_pages = 3\n{GOOD}");
        assert!(error_of(&unknown).contains("max_pages"));
        let results = format!("[results]\nmedia_types = [\"text/html\"]\nmax_bytes = 0\n{GOOD}");
        let error = error_of(&results);
        assert!(
            error.contains("results.media_types: \"text/html\""),
            "{error}"
        );
        assert!(error.contains("results.max_bytes must be > 0"), "{error}");
    }

    #[test]
    fn load_names_the_missing_file() {
        let error = Catalog::load("/nonexistent/catalog.toml")
            .unwrap_err()
            .to_string();
        assert!(error.contains("/nonexistent/catalog.toml"), "{error}");
    }
}
