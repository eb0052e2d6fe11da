//! The applicant and the subject: tax code, names, email and PEC, the company and its VAT
//! number when the type requires one, and the practice's subject.

use super::{
    CODICE_FISCALE_NON_VALIDO, EMAIL_NON_VALIDA, IMPRESA_MANCANTE, MAX_NAME_CHARS,
    MAX_SUBJECT_CHARS, NOME_MANCANTE, NOME_NON_VALIDO, OGGETTO_MANCANTE, OGGETTO_NON_VALIDO,
    PARTITA_IVA_NON_VALIDA, PEC_NON_VALIDA, Reasons, has_forbidden_chars, is_blank,
};
use sportello_shared::catalog::PracticeType;
use sportello_shared::domain::email::EmailAddress;
use sportello_shared::domain::submission::Applicant;
use sportello_shared::domain::tax_code::{TaxCode, TaxCodeError};

pub(super) fn check_applicant(
    applicant: &Applicant,
    practice_type: Option<&PracticeType>,
    reasons: &mut Reasons,
) {
    if is_blank(&applicant.tax_code) {
        reasons.add(
            CODICE_FISCALE_NON_VALIDO,
            "applicant.tax_code",
            "Manca il codice fiscale del richiedente.".to_owned(),
        );
    } else if let Err(error) = TaxCode::parse(&applicant.tax_code) {
        reasons.add(
            CODICE_FISCALE_NON_VALIDO,
            "applicant.tax_code",
            format!(
                "Il codice fiscale indicato non è valido: {}.",
                tax_code_problem(&error)
            ),
        );
    }

    check_person_name(
        &applicant.given_name,
        "applicant.given_name",
        "il nome del richiedente",
        reasons,
    );
    check_person_name(
        &applicant.family_name,
        "applicant.family_name",
        "il cognome del richiedente",
        reasons,
    );

    if is_blank(&applicant.email) {
        reasons.add(
            EMAIL_NON_VALIDA,
            "applicant.email",
            "Manca l'indirizzo email del richiedente: serve per inviarle le comunicazioni \
             sulla pratica."
                .to_owned(),
        );
    } else if EmailAddress::parse(&applicant.email).is_err() {
        reasons.add(
            EMAIL_NON_VALIDA,
            "applicant.email",
            "L'indirizzo email indicato non è valido: controlli di averlo scritto per intero e \
             senza spazi (per esempio nome.cognome@esempio.it)."
                .to_owned(),
        );
    }
    // A blank PEC is how many forms say "none"; only a filled-in one must be right.
    if let Some(pec) = applicant.pec.as_deref().filter(|pec| !is_blank(pec))
        && EmailAddress::parse(pec).is_err()
    {
        reasons.add(
            PEC_NON_VALIDA,
            "applicant.pec",
            "L'indirizzo PEC indicato non è valido: controlli di averlo scritto per intero e \
             senza spazi, oppure lasci vuoto il campo."
                .to_owned(),
        );
    }

    match &applicant.company {
        Some(company) => {
            check_person_name(
                &company.name,
                "applicant.company.name",
                "la denominazione dell'impresa",
                reasons,
            );
            if !vat_number_is_valid(&company.vat_number) {
                reasons.add(
                    PARTITA_IVA_NON_VALIDA,
                    "applicant.company.vat_number",
                    "La partita IVA dell'impresa non è valida: deve essere composta da 11 cifre, \
                     l'ultima delle quali è una cifra di controllo."
                        .to_owned(),
                );
            }
        }
        None if practice_type.is_some_and(|t| t.requires_company) => reasons.add(
            IMPRESA_MANCANTE,
            "applicant.company",
            "Questa pratica va presentata per conto di un'impresa: indichi la denominazione e la \
             partita IVA dell'impresa."
                .to_owned(),
        ),
        None => {}
    }
}

/// `what` is the Italian noun phrase with its article, lowercase: "il nome del richiedente".
fn check_person_name(name: &str, field: &str, what: &str, reasons: &mut Reasons) {
    if is_blank(name) {
        reasons.add(NOME_MANCANTE, field, format!("Manca {what}."));
    } else if has_forbidden_chars(name, false) || name.trim().chars().count() > MAX_NAME_CHARS {
        reasons.add(
            NOME_NON_VALIDO,
            field,
            format!(
                "{} contiene caratteri non ammessi o è troppo lungo (al massimo \
                 {MAX_NAME_CHARS} caratteri).",
                capitalised(what)
            ),
        );
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

pub(super) fn tax_code_problem(error: &TaxCodeError) -> String {
    match error {
        TaxCodeError::WrongLength { .. } => "deve essere composto da 16 caratteri".to_owned(),
        TaxCodeError::BadCharacter { position, .. } => {
            format!("il carattere in posizione {position} non è ammesso in quel punto")
        }
        TaxCodeError::BadMonth => "la lettera del mese di nascita non è corretta".to_owned(),
        TaxCodeError::BadDay => "il giorno di nascita non è corretto".to_owned(),
        TaxCodeError::BadCheckCharacter { .. } => {
            "il carattere di controllo non corrisponde".to_owned()
        }
    }
}

pub(super) fn check_subject(subject: &str, reasons: &mut Reasons) {
    if is_blank(subject) {
        reasons.add(
            OGGETTO_MANCANTE,
            "subject",
            "Manca l'oggetto della pratica: descriva in poche parole che cosa chiede.".to_owned(),
        );
    } else if subject.trim().chars().count() > MAX_SUBJECT_CHARS {
        reasons.add(
            OGGETTO_NON_VALIDO,
            "subject",
            format!(
                "L'oggetto della pratica è troppo lungo: può contenere al massimo \
                 {MAX_SUBJECT_CHARS} caratteri. I dettagli possono essere descritti in un \
                 documento allegato."
            ),
        );
    } else if has_forbidden_chars(subject, true) {
        reasons.add(
            OGGETTO_NON_VALIDO,
            "subject",
            "L'oggetto della pratica contiene caratteri non ammessi: lo riscriva usando solo \
             lettere, numeri e punteggiatura."
                .to_owned(),
        );
    }
}

/// Partita IVA: 11 digits, the last a Luhn-style check digit. An `IT` prefix is tolerated
/// because that is how the number is printed on invoices.
pub(super) fn vat_number_is_valid(raw: &str) -> bool {
    let trimmed = raw.trim();
    let digits = match trimmed.get(..2) {
        Some(prefix) if prefix.eq_ignore_ascii_case("IT") => &trimmed[2..],
        _ => trimmed,
    };
    let bytes = digits.as_bytes();
    if bytes.len() != 11
        || !bytes.iter().all(u8::is_ascii_digit)
        || bytes.iter().all(|&b| b == b'0')
    {
        return false;
    }
    let sum: u32 = bytes[..10]
        .iter()
        .enumerate()
        .map(|(index, &b)| {
            let digit = u32::from(b - b'0');
            if index % 2 == 0 {
                digit
            } else if digit * 2 > 9 {
                digit * 2 - 9
            } else {
                digit * 2
            }
        })
        .sum();
    (10 - sum % 10) % 10 == u32::from(bytes[10] - b'0')
}
