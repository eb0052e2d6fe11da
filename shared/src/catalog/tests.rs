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
        error_of(&other_desk).contains("type \"suap.cila\": code must start with its desk code")
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
