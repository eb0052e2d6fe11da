//! Signed segnaturas checked by tools we did not write: `xmllint` for well-formedness (and for
//! the AgID schema when `AGID_SEGNATURA_XSD` names a local copy of it) and `xmlsec1 --verify`
//! for the signature, with a throwaway key and self-signed certificate made by `openssl`.
//!
//! Needs the Debian packages `xmlsec1`, `libxml2-utils` and `openssl`.

use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use sportello_register::segnatura::ProtocolNumber;
use sportello_register::segnatura::{
    Administration, ClassCode, ClassLevel, Classification, Contacts, Document, Dossier,
    ForeignAdministration, Impronta, IpaCode, LegalPerson, Location, NaturalPerson, Party,
    Recipient, RegisterCode, RegistrationId, Reserved, Segnatura,
};
use sportello_register::signature::{AooSigner, SignatureAlgorithm, SignatureError};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The flags given to xmlsec1: the AOO certificate as the verification key and as the only
/// trust anchor (`ds:KeyInfo` carries the certificate, and without an anchor xmlsec1 logs a
/// failed chain check), and the `Id` of XAdES `SignedProperties` declared an ID, since no DTD
/// says so. xmlsec1 1.2.37 already treats `Id` attributes as IDs; other builds may not.
const XADES_ID: &str = "http://uri.etsi.org/01903/v1.3.2#:SignedProperties";

struct Workdir(PathBuf);

impl Workdir {
    fn new(name: &str) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("xmlsec-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program} ({e}); install the Debian packages xmlsec1, \
                 libxml2-utils and openssl"
            )
        })
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A development identity like the AOO's: PKCS#8 key and self-signed certificate as PEM.
fn identity(dir: &Workdir, kind: &str, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.path(&format!("{name}.key"));
    let cert = dir.path(&format!("{name}.crt"));
    let key_args: &[&str] = match kind {
        "rsa" => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        _ => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    };
    let out = run(
        "openssl",
        &[&["genpkey"], key_args, &["-out", key.to_str().unwrap()]].concat(),
    );
    assert!(out.status.success(), "openssl genpkey: {}", text(&out));
    let out = run(
        "openssl",
        &[
            "req",
            "-new",
            "-x509",
            "-key",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
            "-days",
            "2",
            "-subj",
            "/C=IT/O=Comune di Prova/OU=AOO Protocollo generale/CN=Segnatura sviluppo",
        ],
    );
    assert!(out.status.success(), "openssl req: {}", text(&out));
    (key, cert)
}

fn plain() -> Segnatura {
    Segnatura {
        registration: RegistrationId {
            administration: IpaCode::with_description("c_a794", "Comune di Bergamo"),
            aoo: IpaCode::new("A794"),
            register: RegisterCode::new("PG").unwrap(),
            number: ProtocolNumber::new(1234).unwrap(),
            date: NaiveDate::from_ymd_opt(2025, 3, 7).unwrap(),
            time: NaiveTime::from_hms_opt(10, 15, 30),
        },
        first_registration: None,
        subject: "Richiesta di certificato di residenza".into(),
        classification: Classification {
            name: "Anagrafe e stato civile".into(),
            code: ClassCode::Flat("XI.1".into()),
        },
        dossier: None,
        reserved: None,
        sender: Party::NaturalPerson(NaturalPerson {
            given_name: "Mario".into(),
            family_name: "Rossi".into(),
            title: None,
            codice_fiscale: Some("RSSMRA85T10A562S".into()),
            contacts: Some(Contacts {
                emails: vec!["mario.rossi@example.it".into()],
                phones: vec![],
            }),
        }),
        recipients: vec![Recipient::new(Party::Administration(Administration {
            name: "Comune di Bergamo".into(),
            tax_code: Some("80034840167".into()),
            ipa: IpaCode::new("c_a794"),
            contacts: None,
            aoo: Some(IpaCode::new("A794")),
            aoo_contacts: None,
            uo: None,
            uo_contacts: None,
            people: vec![],
        }))],
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

const HOSTILE_SUBJECT: &str = "<script>alert(\"pwn\")</script> & &amp; &#x41; 'apici' \
    \"virgolette\" ]]> <![CDATA[x]]> àèéìòù ÀÉ € ß 😀👩‍👩‍👧 \u{1}\u{B}\u{C}\u{1F}\u{FFFE}\
    riga\r\nriga\rriga\n\ttab  doppio spazio ";

fn hostile() -> Segnatura {
    let mut s = plain();
    s.subject = HOSTILE_SUBJECT.into();
    s.classification.name = "Classe </prot:Denominazione><x>".into();
    s.dossier = Some(Dossier {
        name: "Fascicolo \"Ω\" & <co>".into(),
        code: "2025/XI.1/7".into(),
    });
    if let Party::NaturalPerson(p) = &mut s.sender {
        p.given_name = "Zoë <b>\"Jo\"</b>".into();
        p.family_name = "D'Artagnan & Figli\u{0}\u{7}".into();
        p.title = Some("Dott.ssa\u{FFFF}".into());
        if let Some(c) = &mut p.contacts {
            c.emails = vec!["\"a<b>\"@example.it".into()];
            c.phones = vec!["+39 035 \t 123\r\n456".into()];
        }
    }
    s.primary_document.file_name = "dom\"an'da <1> & \t\r\n😀.pdf".into();
    s.primary_document.description = Some("Descrizione ]]> \u{8}".into());
    s.attachments.push(Document {
        file_name: "allegato&amp;.p7m".into(),
        mime_type: "application/pkcs7-mime; name=\"a&b\"".into(),
        description: None,
        fingerprint: Impronta::of(b"p7m"),
        location: Some(Location {
            host: "https://documenti.comune.example.it".into(),
            path: "/c_a794/PG/2025/0001234/allegato [firmato] 100% è:?#.p7m".into(),
        }),
    });
    s
}

/// Every optional part the generator can write, so that the schema sees all of them.
fn complete() -> Segnatura {
    let mut s = hostile();
    s.first_registration = Some(RegistrationId {
        administration: IpaCode::new("m_it"),
        aoo: IpaCode::with_description("AOO_INTERNO", "Ministero \"dell'Interno\""),
        register: RegisterCode::new("REG.in_2025-1").unwrap(),
        number: ProtocolNumber::new(98_765_432).unwrap(),
        date: NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
        time: None,
    });
    s.classification.code = ClassCode::Path(vec![
        ClassLevel {
            code: "XI".into(),
            description: Some("Servizi demografici <&>".into()),
        },
        ClassLevel {
            code: "1".into(),
            description: None,
        },
        ClassLevel {
            code: "3".into(),
            description: Some("Residenza".into()),
        },
    ]);
    s.reserved = Some(Reserved {
        note: Some("Dati sanitari\tart. 9 GDPR".into()),
    });
    let officer = NaturalPerson {
        given_name: "Anna".into(),
        family_name: "Bianchi".into(),
        title: Some("Dott.ssa".into()),
        codice_fiscale: None,
        contacts: None,
    };
    s.sender = Party::LegalPerson(LegalPerson {
        name: "Rossi & Figli S.r.l. \u{1F3D7}".into(),
        vat_number: Some("01234567890".into()),
        contacts: Some(Contacts {
            emails: vec!["rossi@pec.example.it".into()],
            phones: vec!["035 000000".into()],
        }),
        people: vec![officer.clone(), officer.clone()],
    });
    let mut foreign = Recipient::new(Party::ForeignAdministration(ForeignAdministration {
        name: "Mairie de Nice".into(),
        office: Some("État civil".into()),
        contacts: Some(Contacts {
            emails: vec!["etat-civil@example.fr".into()],
            phones: vec![],
        }),
    }));
    foreign.for_information = true;
    foreign.receipt_requested = Some(false);
    let contacts = Some(Contacts {
        emails: vec!["ufficio@example.it".into()],
        phones: vec!["035 111111".into()],
    });
    let full_pa = Recipient::new(Party::Administration(Administration {
        name: "Provincia di Bergamo".into(),
        tax_code: Some("80004870160".into()),
        ipa: IpaCode::with_description("p_bg", "Provincia"),
        contacts: contacts.clone(),
        aoo: Some(IpaCode::new("AOO_BG")),
        aoo_contacts: contacts.clone(),
        uo: Some(IpaCode::with_description("UO_7", "Viabilità")),
        uo_contacts: contacts,
        people: vec![officer],
    }));
    s.recipients.push(foreign);
    s.recipients.push(full_pa);
    s
}

fn verify(cert: &Path, file: &Path) -> Output {
    let cert = cert.to_str().unwrap();
    run(
        "xmlsec1",
        &[
            "--verify",
            "--pubkey-cert-pem",
            cert,
            "--trusted-pem",
            cert,
            "--id-attr:Id",
            XADES_ID,
            file.to_str().unwrap(),
        ],
    )
}

fn well_formed(file: &Path) {
    let out = run("xmllint", &["--noout", file.to_str().unwrap()]);
    assert!(out.status.success(), "xmllint: {}", text(&out));
    if let Some(xsd) = std::env::var_os("AGID_SEGNATURA_XSD") {
        let out = run(
            "xmllint",
            &[
                "--noout",
                "--schema",
                xsd.to_str().unwrap(),
                file.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "xmllint --schema: {}", text(&out));
    }
}

fn sign_verify_and_tamper(kind: &str, algorithm: SignatureAlgorithm) {
    let dir = Workdir::new(kind);
    let (key, cert) = identity(&dir, kind, "aoo");
    let signer = AooSigner::from_pem_files(&key, &cert).unwrap();
    assert_eq!(signer.algorithm(), algorithm);
    let when = Utc.with_ymd_and_hms(2025, 3, 7, 9, 15, 30).unwrap();

    let (_, stranger) = identity(&dir, kind, "stranger");
    for (name, segnatura) in [
        ("plain", plain()),
        ("hostile", hostile()),
        ("complete", complete()),
    ] {
        let xml = signer.sign(&segnatura, when).unwrap();
        let file = dir.path(&format!("{name}.xml"));
        std::fs::write(&file, &xml).unwrap();
        well_formed(&file);
        let out = verify(&cert, &file);
        assert!(
            out.status.success() && text(&out).contains("OK"),
            "{kind}/{name} does not verify: {}\n{xml}",
            text(&out)
        );

        let out = verify(&stranger, &file);
        assert!(
            !out.status.success(),
            "{kind}/{name} verifies with somebody else's certificate: {}",
            text(&out)
        );

        // The subject's last letter changes case (every subject here ends with a plain word,
        // so no character reference is touched and the document stays well formed).
        let end = xml.find("</prot:Oggetto>").unwrap();
        let at = xml[..end]
            .bytes()
            .rposition(|b| b.is_ascii_alphabetic())
            .unwrap();
        let mut tampered = xml.clone().into_bytes();
        tampered[at] ^= 0x20;
        let tampered_file = dir.path(&format!("{name}-tampered.xml"));
        std::fs::write(&tampered_file, &tampered).unwrap();
        well_formed(&tampered_file);
        let out = verify(&cert, &tampered_file);
        assert!(
            !out.status.success(),
            "{kind}/{name}: a tampered subject still verifies: {}",
            text(&out)
        );
    }
}

#[test]
fn rsa_signed_segnaturas_verify_and_tampering_is_detected() {
    sign_verify_and_tamper("rsa", SignatureAlgorithm::RsaSha256);
}

#[test]
fn ecdsa_signed_segnaturas_verify_and_tampering_is_detected() {
    sign_verify_and_tamper("ec", SignatureAlgorithm::EcdsaP256Sha256);
}

#[test]
fn hostile_text_survives_a_parser_round_trip() {
    let dir = Workdir::new("roundtrip");
    let (key, cert) = identity(&dir, "ec", "aoo");
    let signer = AooSigner::from_pem(
        &std::fs::read(&key).unwrap(),
        &std::fs::read(&cert).unwrap(),
    )
    .unwrap();
    let file = dir.path("hostile.xml");
    std::fs::write(&file, signer.sign(&hostile(), Utc::now()).unwrap()).unwrap();
    let out = run(
        "xmllint",
        &[
            "--xpath",
            "string(//*[local-name()='Oggetto'])",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "xmllint: {}", text(&out));
    let expected = HOSTILE_SUBJECT
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace(
            ['\u{1}', '\u{B}', '\u{C}', '\u{1F}', '\u{FFFE}'],
            "\u{FFFD}",
        );
    // xmllint ends what it prints with a newline of its own.
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(printed.strip_suffix('\n'), Some(expected.as_str()));
}

#[test]
fn a_certificate_of_another_key_is_refused_at_load() {
    let dir = Workdir::new("mismatch");
    let (rsa_key, _) = identity(&dir, "rsa", "aoo");
    let (_, ec_cert) = identity(&dir, "ec", "other");
    assert!(matches!(
        AooSigner::from_pem_files(&rsa_key, &ec_cert),
        Err(SignatureError::KeyMismatch)
    ));
}
