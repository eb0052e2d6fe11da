//! Tests of the segnatura: the model, the party checks and the canonical XML it writes.

use super::*;

pub(crate) fn citizen() -> NaturalPerson {
    NaturalPerson {
        given_name: "Niccolò".into(),
        family_name: "D'Annunzio".into(),
        title: None,
        codice_fiscale: Some("dnnncc80a01a794x".into()),
        contacts: Some(Contacts {
            emails: vec!["niccolo@example.it".into()],
            phones: vec![],
        }),
    }
}

pub(crate) fn comune() -> Administration {
    Administration {
        name: "Comune di Bergamo".into(),
        tax_code: Some("80034840167".into()),
        ipa: IpaCode::new("c_a794"),
        contacts: None,
        aoo: Some(IpaCode::with_description("A794", "Protocollo generale")),
        aoo_contacts: Some(Contacts {
            emails: vec!["protocollo@cert.comune.bergamo.it".into()],
            phones: vec![],
        }),
        uo: None,
        uo_contacts: None,
        people: vec![],
    }
}

pub(crate) fn sample() -> Segnatura {
    Segnatura {
        registration: RegistrationId {
            administration: IpaCode::with_description("c_a794", "Comune di Bergamo"),
            aoo: IpaCode::new("A794"),
            register: RegisterCode::new("PG").unwrap(),
            number: ProtocolNumber::new(42).unwrap(),
            date: NaiveDate::from_ymd_opt(2025, 3, 7).unwrap(),
            time: NaiveTime::from_hms_opt(9, 5, 0),
        },
        first_registration: None,
        subject: "Richiesta certificato di residenza".into(),
        classification: Classification {
            name: "Anagrafe".into(),
            code: ClassCode::Flat("XI.1".into()),
        },
        dossier: None,
        reserved: None,
        sender: Party::NaturalPerson(citizen()),
        recipients: vec![Recipient::new(Party::Administration(comune()))],
        primary_document: Document {
            file_name: "domanda.pdf".into(),
            mime_type: "application/pdf".into(),
            description: None,
            fingerprint: Impronta::of(b"%PDF-1.7 domanda"),
            location: None,
        },
        attachments: vec![],
    }
}

fn positions(xml: &str, needles: &[&str]) -> Vec<usize> {
    needles
        .iter()
        .map(|n| {
            xml.find(n)
                .unwrap_or_else(|| panic!("{n} missing in {xml}"))
        })
        .collect()
}

fn assert_in_order(xml: &str, needles: &[&str]) {
    let found = positions(xml, needles);
    assert!(
        found.windows(2).all(|w| w[0] < w[1]),
        "out of order: {needles:?} at {found:?} in {xml}"
    );
}

#[test]
fn root_is_qualified_version_3_with_one_namespace_declaration() {
    let xml = sample().to_unsigned_xml().unwrap();
    assert!(xml.starts_with(
        "<prot:SegnaturaInformatica xmlns:prot=\"http://www.agid.gov.it/protocollo/\" \
         prot:lang=\"it\" prot:versione=\"3.0.0\"><prot:Intestazione>"
    ));
    assert!(xml.ends_with("</prot:Descrizione></prot:SegnaturaInformatica>"));
    assert_eq!(xml.matches("xmlns").count(), 1);
    assert!(
        !xml.contains("/>"),
        "canonical form has no empty-element tags"
    );
    assert!(!xml.contains("<?xml"));
    assert!(!xml.contains('\n'));
}

#[test]
fn mandatory_parts_come_in_schema_order() {
    let mut s = sample();
    s.first_registration = Some(RegistrationId {
        number: ProtocolNumber::new(7).unwrap(),
        ..s.registration.clone()
    });
    s.dossier = Some(Dossier {
        name: "Residenze 2025".into(),
        code: "2025-XI.1-3".into(),
    });
    s.reserved = Some(Reserved::default());
    s.attachments.push(Document {
        file_name: "documento.jpg".into(),
        mime_type: "image/jpeg".into(),
        description: Some("Carta d'identità".into()),
        fingerprint: Impronta::of(b"jpeg"),
        location: Some(Location {
            host: "https://documenti.comune.example.it".into(),
            path: "/c_a794/PG/2025/0000042/documento.jpg".into(),
        }),
    });
    let xml = s.to_unsigned_xml().unwrap();
    assert_in_order(
        &xml,
        &[
            "<prot:Intestazione>",
            "<prot:Identificatore>",
            "<prot:CodiceAmministrazione prot:descrizione=\"Comune di Bergamo\">c_a794<",
            "<prot:CodiceAOO>A794<",
            "<prot:CodiceRegistro>PG<",
            "<prot:NumeroRegistrazione>0000042<",
            "<prot:DataRegistrazione>2025-03-07<",
            "<prot:OraRegistrazione>09:05:00<",
            "</prot:Identificatore><prot:PrimaRegistrazione>",
            "<prot:NumeroRegistrazione>0000007<",
            "</prot:PrimaRegistrazione><prot:Oggetto>",
            "<prot:Classifica><prot:Denominazione>Anagrafe</prot:Denominazione>\
             <prot:CodiceFlat>XI.1</prot:CodiceFlat></prot:Classifica>",
            "<prot:Fascicolo><prot:Denominazione>Residenze 2025</prot:Denominazione>\
             <prot:CodiceFascicolo>",
            "<prot:Riservato>true</prot:Riservato></prot:Intestazione>",
            "<prot:Descrizione><prot:Mittente><prot:PersonaFisica><prot:Nome>Niccolò</prot:Nome>\
             <prot:Cognome>D'Annunzio</prot:Cognome><prot:CodiceFiscale>DNNNCC80A01A794X<",
            "<prot:Contatti><prot:IndirizzoTelematico prot:tipo=\"smtp\">niccolo@example.it<",
            "</prot:Mittente><prot:Destinatario><prot:Amministrazione>\
             <prot:DenominazioneAmministrazione>Comune di Bergamo<",
            "<prot:CFAmministrazione>80034840167</prot:CFAmministrazione>\
             <prot:CodiceIPAAmministrazione>c_a794<",
            "<prot:CodiceIPAAOO prot:descrizione=\"Protocollo generale\">A794<",
            "<prot:ContattiAOO>",
            "</prot:Destinatario><prot:DocumentoPrimario prot:mimeType=\"application/pdf\" \
             prot:nomeFile=\"domanda.pdf\"><prot:Impronta prot:algoritmo=\"SHA-256\">",
            "<prot:Allegato prot:mimeType=\"image/jpeg\" prot:nomeFile=\"documento.jpg\">\
             <prot:Descrizione>Carta d'identità</prot:Descrizione><prot:Impronta",
            "<prot:CollocazioneTelematica><prot:HostValue>https://documenti.comune.example.it\
             </prot:HostValue><prot:PathValue>/c_a794/PG/2025/0000042/documento.jpg<",
            "</prot:Allegato></prot:Descrizione>",
        ],
    );
}

#[test]
fn number_is_zero_padded_to_seven_digits_and_grows_beyond() {
    // The writing itself is ProtocolNumber's (tested there), and so is the refusal of zero.
    let mut s = sample();
    assert!(
        s.to_unsigned_xml()
            .unwrap()
            .contains("<prot:NumeroRegistrazione>0000042<")
    );
    s.registration.number = ProtocolNumber::new(12_345_678).unwrap();
    assert!(
        s.to_unsigned_xml()
            .unwrap()
            .contains("<prot:NumeroRegistrazione>12345678<")
    );
}

#[test]
fn register_code_follows_the_schema_pattern() {
    for good in ["PG", "a", "REG_2025.in-1", "0123456789abcdef"] {
        assert_eq!(RegisterCode::new(good).unwrap().as_str(), good);
    }
    for bad in ["", "0123456789abcdefg", "P G", "PG/1", "registrò", "<PG>"] {
        assert_eq!(
            RegisterCode::new(bad),
            Err(SegnaturaError::InvalidRegisterCode(bad.into()))
        );
    }
    assert!("PG".parse::<RegisterCode>().is_ok());
}

#[test]
fn hostile_text_is_escaped_and_kept() {
    let mut s = sample();
    s.subject = "<script>alert(\"x\")</script> &amp; 'apici' ]]> àèìòù € 😀 \u{1}\u{B}fine\r\nriga\rdue\ttab".into();
    if let Party::NaturalPerson(p) = &mut s.sender {
        p.given_name = "Zoë \"la <b>\" & co".into();
        p.family_name = "O'Brien\u{0}\u{FFFF}".into();
    }
    s.primary_document.file_name = "a\"b<c>&d'e\tf\r\ng.pdf".into();
    let xml = s.to_unsigned_xml().unwrap();
    assert!(xml.contains(
        "<prot:Oggetto>&lt;script&gt;alert(\"x\")&lt;/script&gt; &amp;amp; 'apici' ]]&gt; \
         àèìòù € 😀 \u{FFFD}\u{FFFD}fine\nriga\ndue\ttab</prot:Oggetto>"
    ));
    assert!(xml.contains("<prot:Nome>Zoë \"la &lt;b&gt;\" &amp; co</prot:Nome>"));
    assert!(xml.contains("<prot:Cognome>O'Brien\u{FFFD}\u{FFFD}</prot:Cognome>"));
    assert!(xml.contains("prot:nomeFile=\"a&quot;b&lt;c>&amp;d'e&#x9;f&#xA;g.pdf\""));
    assert!(!xml.contains("<script"));
    assert!(!xml.contains('\r'));
    assert!(
        !xml.chars()
            .any(|c| (u32::from(c) < 0x20 && c != '\t' && c != '\n') || c == '\u{FFFF}')
    );
}

#[test]
fn blank_mandatory_fields_are_refused() {
    let mut s = sample();
    s.subject = " \n ".into();
    assert_eq!(s.to_unsigned_xml(), Err(SegnaturaError::Blank("Oggetto")));
    let mut s = sample();
    s.recipients.clear();
    assert_eq!(s.to_unsigned_xml(), Err(SegnaturaError::NoRecipient));
    let mut s = sample();
    s.primary_document.file_name = String::new();
    assert_eq!(
        s.to_unsigned_xml(),
        Err(SegnaturaError::Blank("Documento/nomeFile"))
    );
}

#[test]
fn tax_codes_must_have_the_schema_shape() {
    assert_eq!(
        codice_fiscale(" rssmra85t10a562s ").unwrap(),
        "RSSMRA85T10A562S"
    );
    // Omocodia: digits replaced by letters.
    assert!(codice_fiscale("RSSMRA85T10A56NS").is_ok());
    assert!(codice_fiscale("RSSMRA85T10A562").is_err());
    assert!(codice_fiscale("RSSMRA85Z10A562S").is_err());
    let mut s = sample();
    if let Party::NaturalPerson(p) = &mut s.sender {
        p.codice_fiscale = Some("<script>".into());
    }
    assert_eq!(
        s.to_unsigned_xml(),
        Err(SegnaturaError::InvalidCodiceFiscale("<script>".into()))
    );
    assert!(partita_iva("01234567890").is_ok());
    assert!(partita_iva("IT01234567890").is_err());
}

#[test]
fn every_kind_of_party_and_a_class_path() {
    let mut s = sample();
    s.classification.code = ClassCode::Path(vec![
        ClassLevel {
            code: "XI".into(),
            description: Some("Servizi demografici".into()),
        },
        ClassLevel {
            code: "1".into(),
            description: None,
        },
    ]);
    s.sender = Party::LegalPerson(LegalPerson {
        name: "Rossi & Figli S.r.l.".into(),
        vat_number: Some("01234567890".into()),
        contacts: None,
        people: vec![citizen()],
    });
    let mut foreign = Recipient::new(Party::ForeignAdministration(ForeignAdministration {
        name: "Mairie de Nice".into(),
        office: Some("État civil".into()),
        contacts: None,
    }));
    foreign.for_information = true;
    foreign.receipt_requested = Some(false);
    s.recipients.push(foreign);
    let xml = s.to_unsigned_xml().unwrap();
    assert_in_order(
        &xml,
        &[
            "<prot:CodicePath><prot:Livello prot:descrizione=\"Servizi demografici\">XI\
             </prot:Livello><prot:SubLivello><prot:Livello>1</prot:Livello></prot:SubLivello>\
             </prot:CodicePath>",
            "<prot:PersonaGiuridica><prot:Denominazione>Rossi &amp; Figli S.r.l.\
             </prot:Denominazione><prot:PIVAoCF>01234567890</prot:PIVAoCF><prot:PersonaFisica>",
            "<prot:Destinatario prot:confermaRicezione=\"false\" prot:perConoscenza=\"true\">\
             <prot:AmministrazioneEstera><prot:DenominazioneAmministrazione>Mairie de Nice<",
            "<prot:DenominazioneUfficio>État civil</prot:DenominazioneUfficio>",
        ],
    );
    let mut s = sample();
    s.classification.code = ClassCode::Path(vec![]);
    assert_eq!(s.to_unsigned_xml(), Err(SegnaturaError::EmptyClassPath));
}

#[test]
fn locations_are_valid_uris_whatever_the_file_name() {
    assert_eq!(
        path_value("/c_a794/PG/2025/0000042/Domanda [firmata] 100% è?.pdf"),
        "/c_a794/PG/2025/0000042/Domanda%20%5Bfirmata%5D%20100%25%20%C3%A8%3F.pdf"
    );
    for good in [
        "documenti.comune.example.it",
        "https://documenti.comune.example.it",
        "https://documenti.comune.example.it:8443/",
        "127.0.0.1:9000",
    ] {
        assert_eq!(host_value(good), Ok(good));
    }
    for bad in [
        "",
        ":::",
        "1http://x.it",
        "https://",
        "https://x.it:porta",
        "https://x.it/percorso",
        "x y.it",
    ] {
        assert_eq!(
            host_value(bad),
            Err(SegnaturaError::InvalidHost(bad.into())),
            "{bad}"
        );
    }
}

#[test]
fn fingerprint_round_trips_through_base64_and_hex() {
    let f = Impronta::of(b"abc");
    assert_eq!(
        f.to_base64(),
        "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
    );
    assert_eq!(Impronta::from_base64(&f.to_base64()).unwrap(), f);
    assert_eq!(
        Impronta::from_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
            .unwrap(),
        f
    );
    assert!(Impronta::from_base64("YWJj").is_err());
    assert!(Impronta::from_hex("zz").is_err());
}

#[test]
fn namespaces_are_declared_where_first_used_and_attributes_sorted() {
    let tree = Element::new(Ns::Ds, "Signature")
        .attr(None, "Id", "s")
        .child(
            Element::new(Ns::Xades, "Q")
                .attr(None, "Target", "#s")
                .attr(Some(Ns::Prot), "z", "1")
                .attr(None, "A", "2")
                .child(Element::new(Ns::Ds, "DigestValue").text("x")),
        );
    assert_eq!(
        tree.canonical(),
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" Id=\"s\">\
         <xades:Q xmlns:prot=\"http://www.agid.gov.it/protocollo/\" \
         xmlns:xades=\"http://uri.etsi.org/01903/v1.3.2#\" A=\"2\" Target=\"#s\" prot:z=\"1\">\
         <ds:DigestValue>x</ds:DigestValue></xades:Q></ds:Signature>"
    );
    let inner = tree.children().next().unwrap();
    assert!(inner.canonical().contains(
        "<ds:DigestValue xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">x</ds:DigestValue>"
    ));
}
