//! The receipt of a practice (art. 18-bis L. 241/1990) with the contents of the notice that the
//! procedure has started (art. 8): a PDF the citizen receives with the receipt email and can
//! download from the folder, archived beside the segnatura with its SHA-256.
//!
//! It says: the municipality and the office, the responsabile del procedimento, the protocol
//! number and date (the date of presentation), the subject, every document with its impronta,
//! the term and the date by which the procedure must end, what the office's silence means, the
//! remedies, and how to follow the practice. Everything comes from the incoming registration,
//! the catalog and the configuration: the same registration gives the same bytes, so the email,
//! the archive and the download carry one document with one fingerprint.

use chrono::Duration;
use sportello_shared::catalog::PracticeType;
use sportello_shared::config::{MunicipalitySettings, ProcedureSettings};
use sportello_shared::pdf::{self, Block};

use crate::register::Registration;

/// The file name under which the receipt is attached and archived.
pub const RECEIPT_FILE_NAME: &str = "ricevuta.pdf";

/// What the receipt states, each field as it is printed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReceiptFacts {
    pub municipality: String,
    pub office: String,
    pub responsabile: String,
    /// `0000012/2026`.
    pub protocol_number: String,
    /// `01/12/2026`.
    pub protocol_date: String,
    pub subject: String,
    pub practice_title: String,
    pub practice_id: String,
    pub applicant: String,
    /// (file name, impronta in base64).
    pub documents: Vec<(String, String)>,
    pub term_days: u32,
    /// The date by which the procedure must end, as of the receipt (suspensions move it later).
    pub due_date: String,
    pub silence: String,
    pub remedies: String,
    pub follow_online: String,
}

impl ReceiptFacts {
    pub fn of(
        registration: &Registration,
        kind: &PracticeType,
        procedure: &ProcedureSettings,
        municipality: &MunicipalitySettings,
    ) -> ReceiptFacts {
        let (responsabile, remedies) = procedure.desk(&kind.desk.code);
        let day = |d: chrono::NaiveDate| d.format("%d/%m/%Y").to_string();
        let sender = registration
            .correspondents
            .as_array()
            .and_then(|all| all.iter().find(|c| c["role"] == "mittente"));
        let applicant = sender.map_or_else(String::new, |c| {
            let name = format!(
                "{} {}",
                c["given_name"].as_str().unwrap_or(""),
                c["family_name"].as_str().unwrap_or("")
            );
            match c["company"]["name"].as_str() {
                Some(company) => format!("{} per {company}", name.trim()),
                None => name.trim().to_owned(),
            }
        });
        ReceiptFacts {
            municipality: municipality.name.clone(),
            office: kind.office.clone(),
            responsabile: responsabile.to_owned(),
            protocol_number: format!("{}/{}", registration.number, registration.year),
            protocol_date: day(registration.registration_date),
            subject: registration.subject.clone(),
            practice_title: kind.title.clone(),
            practice_id: registration.practice_id.to_string(),
            applicant,
            documents: registration
                .documents
                .as_array()
                .map(|all| {
                    all.iter()
                        .map(|d| {
                            (
                                d["file_name"].as_str().unwrap_or("").to_owned(),
                                d["impronta"].as_str().unwrap_or("").to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            term_days: kind.term_days,
            due_date: day(
                registration.registration_date + Duration::days(i64::from(kind.term_days))
            ),
            silence: kind.silence.meaning().to_owned(),
            remedies: remedies.to_owned(),
            follow_online: format!(
                "nella Sua area personale (cartella del cittadino) su {}, oppure allo sportello ({}) indicando il codice pratica {}",
                municipality.website, municipality.counter_address, registration.practice_id
            ),
        }
    }

    /// Who asks for what, and who answers by when: the part the attestation of silence repeats.
    pub(crate) fn procedure_blocks(&self) -> Vec<Block> {
        vec![
            Block::Field("Richiedente".into(), self.applicant.clone()),
            Block::Field("Pratica".into(), self.practice_title.clone()),
            Block::Field("Oggetto".into(), self.subject.clone()),
            Block::Field("Codice pratica".into(), self.practice_id.clone()),
            Block::Gap,
            Block::Field("Ufficio competente".into(), self.office.clone()),
            Block::Field(
                "Responsabile del procedimento".into(),
                self.responsabile.clone(),
            ),
            Block::Field(
                "Termine del procedimento".into(),
                format!("{} giorni dalla data di presentazione", self.term_days),
            ),
        ]
    }

    /// The receipt as a PDF.
    pub fn pdf(&self) -> Vec<u8> {
        let mut blocks = vec![
            Block::Title(format!("{} — Ricevuta di presentazione", self.municipality)),
            Block::Paragraph(
                "Ricevuta dell'istanza (art. 18-bis L. 241/1990) e comunicazione di avvio del \
                 procedimento (art. 8 L. 241/1990)."
                    .to_owned(),
            ),
            Block::Gap,
            Block::Field("Numero di protocollo".into(), self.protocol_number.clone()),
            Block::Field(
                "Data di presentazione".into(),
                format!("{} (data di protocollo)", self.protocol_date),
            ),
        ];
        blocks.extend(self.procedure_blocks());
        blocks.extend([
            Block::Field("Da concludere entro il".into(), self.due_date.clone()),
            Block::Paragraph(
                "Il termine è sospeso, una sola volta e per non più di 30 giorni, se l'ufficio \
                 chiede documenti o informazioni che non possiede (art. 2 c.7), e durante i 10 \
                 giorni per le osservazioni dopo un preavviso di rigetto (art. 10-bis): la data \
                 si sposta di conseguenza."
                    .to_owned(),
            ),
            Block::Field("Se l'ufficio non risponde".into(), self.silence.clone()),
            Block::Field("Rimedi".into(), self.remedies.clone()),
            Block::Gap,
            Block::Heading(
                "Documenti presentati, ciascuno con la sua impronta (SHA-256, base64)".into(),
            ),
        ]);
        for (name, impronta) in &self.documents {
            blocks.push(Block::Field(name.clone(), impronta.clone()));
        }
        blocks.extend([
            Block::Gap,
            Block::Field("Dove seguire la pratica".into(), self.follow_online.clone()),
        ]);
        pdf::document(
            &format!("Ricevuta protocollo n. {}", self.protocol_number),
            &blocks,
        )
    }
}
