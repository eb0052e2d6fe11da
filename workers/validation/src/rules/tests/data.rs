//! The data fields ([`super::super::data`]).

use super::*;

#[test]
fn missing_data_field() {
    let verdict = check_cila(|sub, _| {
        sub.data.remove("data_inizio_lavori");
        sub.data.insert("riferimenti_catastali".into(), Value::Null);
        sub.data
            .insert("descrizione_intervento".into(), Value::from("   "));
    });
    assert_eq!(
        codes(&verdict),
        [CAMPO_MANCANTE, CAMPO_MANCANTE, CAMPO_MANCANTE]
    );
    let fields: Vec<_> = verdict
        .reasons()
        .iter()
        .map(|r| r.field.as_deref())
        .collect();
    assert_eq!(
        fields,
        [
            Some("riferimenti_catastali"),
            Some("descrizione_intervento"),
            Some("data_inizio_lavori")
        ]
    );
    assert_eq!(
        verdict.reasons()[2].message,
        "Manca il dato obbligatorio «Data di inizio dei lavori»."
    );
}

#[test]
fn optional_fields_may_be_absent_but_not_wrong() {
    let data = serde_json::json!({ "tipo_certificato": "residenza", "uso": "bollo" });
    let mut sub = submission("anagrafe.certificato_anagrafico", data);
    assert!(check(&sub, &[], &catalog()).is_valid());
    sub.data
        .insert("esenzione_bollo".into(), Value::from("forse"));
    assert_eq!(codes(&check(&sub, &[], &catalog())), [CAMPO_NON_VALIDO]);
}

#[test]
fn data_fields_of_the_wrong_kind() {
    // Each field with the values it must refuse.
    let cases: &[(&str, &str, Vec<Value>)] = &[
        (
            "edilizia.cila",
            "data_inizio_lavori",
            vec![
                "01/04/2025".into(),
                "2025-02-29".into(),
                "2025-4-1".into(),
                20250401.into(),
            ],
        ),
        (
            "edilizia.cila",
            "codice_fiscale_tecnico",
            vec!["BNCLRA92E45F205A".into()],
        ),
        ("edilizia.cila", "pec_tecnico", vec!["laura.bianchi".into()]),
        (
            "edilizia.cila",
            "descrizione_intervento",
            vec![42.into(), "a\u{7}b".into(), "x".repeat(2001).into()],
        ),
        (
            "tributi.rimborso_imu",
            "anno_imposta",
            vec![2023.5.into(), "duemilaventitré".into()],
        ),
        (
            "tributi.rimborso_imu",
            "importo_richiesto",
            vec!["12,5,0".into(), "€ 100".into()],
        ),
        (
            "tributi.rimborso_imu",
            "iban",
            vec![
                "IT60X0542811101000000123457".into(),
                "IT60X054281110100000012345".into(),
            ],
        ),
        (
            "scuola.iscrizione_mensa",
            "dieta_speciale",
            vec!["sì".into()],
        ),
    ];
    for (practice_type, field, values) in cases {
        for value in values {
            let mut sub = submission(practice_type, serde_json::json!({}));
            sub.data.insert((*field).to_owned(), value.clone());
            let verdict = check(&sub, &[], &catalog());
            let reason = verdict
                .reasons()
                .iter()
                .find(|r| r.field.as_deref() == Some(field))
                .unwrap_or_else(|| panic!("{field} = {value}: no reason"));
            assert_eq!(reason.code, CAMPO_NON_VALIDO, "{field} = {value}");
            assert!(
                reason.message.starts_with("Il dato «"),
                "{}",
                reason.message
            );
        }
    }
}

#[test]
fn data_fields_in_their_accepted_spellings() {
    let mut sub = submission(
        "tributi.rimborso_imu",
        serde_json::json!({
            "anno_imposta": "2023",
            "importo_richiesto": 120,
            "iban": IBAN,
            "motivazione": "Versamento doppio della seconda rata",
        }),
    );
    let facts = attach_all(
        &mut sub,
        &[
            ("documento_identita", "ci.pdf", media::PDF, MIB),
            ("ricevute_versamento", "f24.pdf", media::PDF, MIB),
        ],
    );
    assert_eq!(check(&sub, &facts, &catalog()), Verdict::Valid);
    sub.data.insert("anno_imposta".into(), Value::from(2023));
    sub.data
        .insert("importo_richiesto".into(), Value::from("120.50"));
    sub.data
        .insert("unknown_extra".into(), Value::from("ignored"));
    assert_eq!(check(&sub, &facts, &catalog()), Verdict::Valid);
    assert!(
        crate::rules::data::is_iso_date("2024-02-29")
            && !crate::rules::data::is_iso_date("1900-02-29")
    );
}

#[test]
fn a_valid_realtime_certificate_request() {
    let sub = submission(
        "anagrafe.certificato_anagrafico",
        serde_json::json!({ "tipo_certificato": "residenza", "uso": "pratica INPS" }),
    );
    assert_eq!(check(&sub, &[], &catalog()), Verdict::Valid);
}

#[test]
fn a_valid_shop_opening_by_a_company() {
    let mut sub = submission(
        "suap.apertura_negozio",
        serde_json::json!({
            "indirizzo_esercizio": "Via Borgo Palazzo 5, Bergamo",
            "settore_merceologico": "non alimentare",
            "superficie_vendita_mq": "85,5",
            "data_avvio": "2025-09-01",
        }),
    );
    sub.applicant.company = Some(Company {
        name: "Rossi Abbigliamento S.r.l.".to_owned(),
        vat_number: format!("IT{VAT_NUMBER}"),
    });
    sub.applicant.pec = Some("rossi.abbigliamento@pec.example.it".to_owned());
    sub.channel = Channel::Counter {
        operator_id: "OP-7".to_owned(),
    };
    let facts = attach_all(
        &mut sub,
        &[
            ("modulo_scia", "scia.pdf", media::PDF, 2 * MIB),
            ("planimetria", "locali.pdf.p7m", media::PKCS7, 8 * MIB),
            ("documento_identita", "ci.jpg", media::JPEG, MIB),
            ("modello_xml", "SUAP.xml", media::XML, 20_000),
        ],
    );
    assert_eq!(check(&sub, &facts, &catalog()), Verdict::Valid);
}

#[test]
fn a_valid_school_canteen_enrolment_and_rent_contribution() {
    let sub = submission(
        "scuola.iscrizione_mensa",
        serde_json::json!({
            "nome_alunno": "Lucia Rossi",
            "codice_fiscale_alunno": CHILD_TAX_CODE,
            "scuola": "Primaria Papa Giovanni XXIII",
            "classe": "4ª B",
            "anno_scolastico": "2025/2026",
            "dieta_speciale": false,
        }),
    );
    assert_eq!(check(&sub, &[], &catalog()), Verdict::Valid);

    let mut sub = submission(
        "sociale.contributo_affitto",
        serde_json::json!({
            "valore_isee": 9350.27,
            "canone_mensile": "520,00",
            "componenti_nucleo": 3,
            "iban": "it60 x054 2811 1010 0000 0123 456",
        }),
    );
    let facts = attach_all(
        &mut sub,
        &[
            ("documento_identita", "ci.png", media::PNG, MIB),
            ("attestazione_isee", "isee.pdf", media::PDF, MIB),
            ("contratto_locazione", "contratto.pdf", media::PDF, 3 * MIB),
        ],
    );
    assert_eq!(check(&sub, &facts, &catalog()), Verdict::Valid);
}
