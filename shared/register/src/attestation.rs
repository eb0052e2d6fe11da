//! The attestation of silenzio-assenso (art. 20 c.2-bis L. 241/1990): when the term of a
//! procedure whose silence is consent passes with no outcome, the administration attests, by
//! telematic means, that the term has run and that the application is therefore granted.
//!
//! It is registered as an outgoing document of the practice and archived like a back office's
//! result. Everything it says comes from the incoming registration, the catalog, the
//! configuration and the clock's `overdue` event as the database holds them: a redelivered
//! request writes the same bytes, which the archive's never-overwrite rule demands.

use chrono::NaiveDate;
use sportello_shared::catalog::PracticeType;
use sportello_shared::config::{MunicipalitySettings, ProcedureSettings};
use sportello_shared::pdf::{self, Block};

use crate::receipt::ReceiptFacts;
use crate::register::Registration;

/// The file name under which the attestation is registered, archived and attached.
pub const ATTESTATION_FILE_NAME: &str = "attestazione-silenzio-assenso.pdf";

/// What the attestation states, each field as it is printed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttestationFacts {
    /// The receipt's facts: municipality, office, responsabile, the istanza's protocol number
    /// and date, applicant, subject, term.
    pub receipt: ReceiptFacts,
    pub suspended_days: u32,
    /// The last day of the term, suspensions included.
    pub due_date: String,
    /// The day consent was formed: the day after the last day of the term.
    pub formed_on: String,
}

impl AttestationFacts {
    pub fn of(
        registration: &Registration,
        kind: &PracticeType,
        procedure: &ProcedureSettings,
        municipality: &MunicipalitySettings,
        suspended_days: u32,
        due_on: NaiveDate,
        formed_on: NaiveDate,
    ) -> AttestationFacts {
        let day = |d: NaiveDate| d.format("%d/%m/%Y").to_string();
        AttestationFacts {
            receipt: ReceiptFacts::of(registration, kind, procedure, municipality),
            suspended_days,
            due_date: day(due_on),
            formed_on: day(formed_on),
        }
    }

    /// What the attestation declares, in one sentence.
    pub fn statement(&self) -> String {
        format!(
            "Si attesta che sull'istanza prot. n. {} del {} il termine di {} giorni per la \
             conclusione del procedimento è decorso il {} senza che l'amministrazione abbia \
             comunicato un provvedimento di diniego: ai sensi dell'art. 20 della L. 241/1990 \
             l'istanza si intende accolta (silenzio-assenso) dal {}.",
            self.receipt.protocol_number,
            self.receipt.protocol_date,
            self.receipt.term_days,
            self.due_date,
            self.formed_on
        )
    }

    /// The attestation as a PDF.
    pub fn pdf(&self) -> Vec<u8> {
        let receipt = &self.receipt;
        let mut blocks = vec![
            Block::Title(format!(
                "{} — Attestazione di silenzio-assenso",
                receipt.municipality
            )),
            Block::Paragraph(
                "Attestazione telematica del decorso dei termini e della formazione del \
                 silenzio-assenso (art. 20, comma 2-bis, L. 241/1990)."
                    .to_owned(),
            ),
            Block::Gap,
            Block::Paragraph(self.statement()),
            Block::Gap,
            Block::Field(
                "Istanza".into(),
                format!(
                    "prot. n. {} del {}",
                    receipt.protocol_number, receipt.protocol_date
                ),
            ),
        ];
        blocks.extend(receipt.procedure_blocks());
        blocks.extend([
            Block::Field(
                "Giorni di sospensione".into(),
                self.suspended_days.to_string(),
            ),
            Block::Field("Ultimo giorno del termine".into(), self.due_date.clone()),
            Block::Field("Istanza accolta dal".into(), self.formed_on.clone()),
            Block::Gap,
            Block::Paragraph(
                "Restano salvi i poteri di autotutela dell'amministrazione (art. 20 c.3 \
                 L. 241/1990). Questa attestazione è registrata nel protocollo in uscita del \
                 Comune: il numero e l'impronta sono nella segnatura che l'accompagna."
                    .to_owned(),
            ),
            Block::Field(
                "Dove seguire la pratica".into(),
                receipt.follow_online.clone(),
            ),
        ]);
        pdf::document(
            &format!(
                "Attestazione di silenzio-assenso, istanza prot. n. {}",
                receipt.protocol_number
            ),
            &blocks,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> AttestationFacts {
        AttestationFacts {
            receipt: ReceiptFacts {
                municipality: "Comune di Bergamo".into(),
                office: "Ufficio Suolo pubblico".into(),
                responsabile: "Dott.ssa Anna Rossi".into(),
                protocol_number: "0000042/2026".into(),
                protocol_date: "02/11/2026".into(),
                subject: "Dehors estivo del bar in piazza Pontida".into(),
                practice_title: "Dehors".into(),
                practice_id: "6f0c7c1e-0000-4000-8000-000000000001".into(),
                applicant: "Mattia Gamba".into(),
                documents: vec![],
                term_days: 30,
                due_date: "02/12/2026".into(),
                silence: "silenzio-assenso".into(),
                remedies: "ricorso al TAR".into(),
                follow_online: "nella Sua area personale".into(),
            },
            suspended_days: 0,
            due_date: "02/12/2026".into(),
            formed_on: "03/12/2026".into(),
        }
    }

    #[test]
    fn the_statement_names_the_istanza_the_term_and_the_day_of_consent() {
        let statement = facts().statement();
        for part in [
            "0000042/2026",
            "02/11/2026",
            "30 giorni",
            "02/12/2026",
            "03/12/2026",
            "art. 20",
        ] {
            assert!(statement.contains(part), "{part} missing from {statement}");
        }
    }

    #[test]
    fn the_same_facts_give_the_same_bytes() {
        let pdf = facts().pdf();
        assert!(pdf.starts_with(b"%PDF-"));
        assert_eq!(pdf, facts().pdf());
        let mut other = facts();
        other.formed_on = "04/12/2026".into();
        assert_ne!(pdf, other.pdf());
    }
}
