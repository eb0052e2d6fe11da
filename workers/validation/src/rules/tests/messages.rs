//! What messages may show ([`super::super::shown`], sizes).

use super::*;

#[test]
fn messages_never_show_tax_codes_or_email_addresses() {
    let bad_code = "RSSMRA80A01H501A";
    let verdict = check_cila(|sub, facts| {
        sub.applicant.tax_code = bad_code.into();
        sub.applicant.email = "mario.rossi@example".into();
        sub.data.insert(
            "codice_fiscale_tecnico".into(),
            Value::from("BNCLRA92E45F205A"),
        );
        sub.data
            .insert("pec_tecnico".into(), Value::from("laura.bianchi@pec"));
        facts[1].file_name = format!("{TAX_CODE}_mario.rossi@example.it_pianta.docx");
        facts[1].detected_media_type = Some(media::ZIP);
        facts[1].declared_media_type = media::ZIP.into();
    });
    let all = serde_json::to_string(&verdict).unwrap();
    for secret in [
        bad_code,
        TAX_CODE,
        "MRA80A01H501",
        "BNCLRA92E45F205A",
        "mario.rossi",
        "example.it",
        "laura.bianchi",
    ] {
        assert!(!all.contains(secret), "{secret} leaked in {all}");
    }
    assert!(all.contains("«R***@e***.it_pianta.docx»"), "{all}");
}

#[test]
fn file_names_in_messages_are_tamed() {
    assert_eq!(
        shown::shown_file_name("RSSMRA80A01H501U_ci.pdf"),
        "RSS************U_ci.pdf"
    );
    assert_eq!(
        shown::shown_file_name("ci di mario.rossi@example.it.pdf"),
        "ci di m***@e***.pdf"
    );
    assert_eq!(shown::shown_file_name("a@b@c.pdf"), "a***@b******@c***.pdf");
    assert_eq!(shown::shown_file_name("a\r\nb.pdf"), "a  b.pdf");
    assert_eq!(shown::shown_file_name("   "), "senza nome");
    let long = format!("{}.pdf", "x".repeat(200));
    let tamed = shown::shown_file_name(&long);
    assert_eq!(tamed.chars().count(), shown::MAX_SHOWN_FILE_NAME_CHARS + 1);
    assert!(tamed.ends_with('…'));
}

#[test]
fn sizes_read_like_a_citizen_expects() {
    assert_eq!(crate::rules::documents::human_size(5 * MIB), "5 MB");
    assert_eq!(
        crate::rules::documents::human_size(5 * MIB + MIB / 4),
        "5,3 MB"
    );
    assert_eq!(crate::rules::documents::human_size(1500), "2 KB");
    assert_eq!(crate::rules::documents::human_size(12), "12 byte");
}
