//! The documents: each of a role the type (or an integration) foresees, once, with a name
//! every later stage can take, not empty, of an allowed media type sniffed from its content
//! and matching the declared one, well formed, within the size limit, and with the impronta
//! the sender declared; then the required roles that are missing.

use super::shown::shown_file_name;
use super::{
    CONTENUTO_NON_CONFORME, DOCUMENTO_DUPLICATO, DOCUMENTO_MANCANTE, DOCUMENTO_NON_PREVISTO,
    DocumentFacts, FILE_TROPPO_GRANDE, FILE_VUOTO, IMPRONTA_NON_CORRISPONDE, INTEGRATION_ROLE,
    NOME_FILE_NON_VALIDO, Purpose, Reasons, TIPO_FILE_DICHIARATO_ERRATO, TIPO_FILE_NON_AMMESSO,
    integration_document_spec,
};
use sportello_shared::catalog::{DocumentSpec, PracticeType};
use sportello_shared::domain::content::{self, Problem};
use sportello_shared::domain::file_name::{FileNameProblem, MAX_FILE_NAME_CHARS, check_file_name};
use sportello_shared::domain::media;
use std::collections::BTreeMap;

pub(super) fn check_documents(
    facts: &[DocumentFacts],
    practice_type: Option<&PracticeType>,
    purpose: Purpose,
    limits: &content::Limits,
    reasons: &mut Reasons,
) {
    let integration_spec = integration_document_spec();
    let mut given: BTreeMap<&str, usize> = BTreeMap::new();
    for document in facts {
        let role = document.role.trim();
        let count = given.entry(role).or_default();
        *count += 1;
        let spec = practice_type.and_then(|t| t.document(role)).or((purpose
            == Purpose::Integration
            && role == INTEGRATION_ROLE)
            .then_some(&integration_spec));
        let name = shown_file_name(&document.file_name);
        if let Err(problem) = check_file_name(&document.file_name) {
            let label = spec.map_or(role, |spec| spec.label.as_str());
            reasons.add(
                NOME_FILE_NON_VALIDO,
                role,
                file_name_message(problem, &name, label),
            );
        }

        if let Some(practice_type) = practice_type
            && spec.is_none()
        {
            reasons.add(
                DOCUMENTO_NON_PREVISTO,
                role,
                format!(
                    "Il file «{name}» è allegato come un documento che la pratica «{}» non \
                     prevede: lo tolga oppure lo alleghi come uno dei documenti richiesti.",
                    practice_type.title
                ),
            );
        }
        let repeatable = purpose == Purpose::Integration && role == INTEGRATION_ROLE;
        if *count == 2 && !repeatable {
            let label = spec.map_or(role, |spec| spec.label.as_str());
            reasons.add(
                DOCUMENTO_DUPLICATO,
                role,
                format!(
                    "Il documento «{label}» è allegato più di una volta: ne alleghi uno solo \
                     (più pagine possono stare in un unico PDF)."
                ),
            );
        }

        if document.size == 0 {
            reasons.add(
                FILE_VUOTO,
                role,
                format!("Il file «{name}» è vuoto: lo alleghi di nuovo."),
            );
        } else {
            check_file_content(document, spec, &name, limits, reasons);
        }

        if !document
            .declared_sha256
            .trim()
            .eq_ignore_ascii_case(document.actual_sha256.trim())
        {
            reasons.add(
                IMPRONTA_NON_CORRISPONDE,
                role,
                format!(
                    "Il file «{name}» ricevuto non corrisponde a quello inviato (l'impronta \
                     SHA-256 è diversa): potrebbe essersi danneggiato durante la trasmissione. \
                     La preghiamo di allegarlo di nuovo."
                ),
            );
        }
    }

    if let Some(practice_type) = practice_type
        && purpose == Purpose::Application
    {
        for spec in practice_type.documents.iter().filter(|spec| spec.required) {
            if !given.contains_key(spec.role.as_str()) {
                reasons.add(
                    DOCUMENTO_MANCANTE,
                    &spec.role,
                    format!("Manca il documento obbligatorio «{}».", spec.label),
                );
            }
        }
    }
}

/// What a file name a later stage cannot take is told, in Italian. `name` is as shown.
fn file_name_message(problem: FileNameProblem, name: &str, label: &str) -> String {
    let rename = "lo rinomini e lo alleghi di nuovo";
    match problem {
        FileNameProblem::Blank => format!(
            "Il file allegato come «{label}» non ha un nome: {rename} (per esempio \
             «documento.pdf»)."
        ),
        FileNameProblem::ForbiddenCharacters => format!(
            "Il nome del file «{name}» contiene caratteri non ammessi (caratteri di \
             controllo): {rename}, usando solo lettere, numeri e punteggiatura."
        ),
        FileNameProblem::PathSeparator => format!(
            "Il nome del file «{name}» contiene le barre «/» o «\\», che in un nome di file \
             non sono ammesse: {rename}."
        ),
        FileNameProblem::OnlyDots => {
            format!("Il nome del file «{name}» è composto solo da punti: {rename}.")
        }
        FileNameProblem::TooLong => format!(
            "Il nome del file «{name}» è troppo lungo (al massimo {MAX_FILE_NAME_CHARS} \
             caratteri): {rename} con un nome più breve."
        ),
    }
}

/// Why the content is not what its type promises, for the citizen.
fn content_message(
    problem: &Problem,
    detected: &str,
    name: &str,
    limits: &content::Limits,
) -> String {
    let format = media::display_name(detected);
    let unreadable = format!(
        "Il file «{name}» non è un file {format} valido: sembra incompleto, danneggiato \
         oppure di un altro tipo. Lo salvi di nuovo in formato {format} con il programma con \
         cui lo ha creato (oppure lo scansioni di nuovo) e lo alleghi ancora."
    );
    match problem {
        Problem::Malformed { .. } => unreadable,
        Problem::ImageTooLarge { width, height } if *width == 0 || *height == 0 => unreadable,
        Problem::ImageTooLarge { width, height } => format!(
            "L'immagine «{name}» è troppo grande ({width}×{height} pixel; al massimo {} pixel \
             per lato e {} milioni di pixel in tutto): la ridimensioni, oppure la salvi in \
             formato PDF, e la alleghi di nuovo.",
            limits.max_image_side,
            limits.max_image_pixels / 1_000_000
        ),
        Problem::ArchiveTooLarge(_) => format!(
            "L'archivio «{name}», una volta estratto, supera i limiti ammessi (al massimo {} di \
             contenuto e {} file): alleghi i documenti singolarmente oppure in archivi più \
             piccoli.",
            human_size(limits.zip.max_uncompressed_bytes),
            limits.zip.max_entries
        ),
        Problem::NestedTooDeep { .. } => format!(
            "L'archivio «{name}» contiene archivi ZIP dentro altri archivi oltre quanto \
             ammesso: alleghi un solo archivio con i documenti al suo interno, senza altri \
             archivi annidati."
        ),
        Problem::Unsupported { .. } => format!(
            "L'archivio «{name}» è protetto da password o usa un formato che non è possibile \
             verificare: lo crei di nuovo senza password, con la compressione ZIP standard, e \
             lo alleghi ancora."
        ),
    }
}

/// Media type, content and size of a non-empty file.
fn check_file_content(
    document: &DocumentFacts,
    spec: Option<&DocumentSpec>,
    name: &str,
    limits: &content::Limits,
    reasons: &mut Reasons,
) {
    let role = document.role.trim();
    // What the content check found matters only for a type the citizen may send at all.
    let allowed = document
        .detected_media_type
        .is_some_and(|detected| spec.is_none_or(|spec| spec.allows(detected)));
    if allowed
        && let (Some(detected), Some(problem)) =
            (document.detected_media_type, &document.content_problem)
    {
        reasons.add(
            CONTENUTO_NON_CONFORME,
            role,
            content_message(problem, detected, name, limits),
        );
    }
    if let Some(spec) = spec {
        if !document
            .detected_media_type
            .is_some_and(|detected| spec.allows(detected))
        {
            reasons.add(
                TIPO_FILE_NON_AMMESSO,
                role,
                format!(
                    "Il file «{name}» non è di un tipo ammesso per «{}»: sono ammessi {}.",
                    spec.label,
                    allowed_list(&spec.media_types)
                ),
            );
        }
        if document.size > spec.max_bytes {
            reasons.add(
                FILE_TROPPO_GRANDE,
                role,
                format!(
                    "Il file «{name}» è troppo grande ({}): per «{}» la dimensione massima è {}.",
                    human_size(document.size),
                    spec.label,
                    human_size(spec.max_bytes)
                ),
            );
        }
    }
    if let Some(detected) = document.detected_media_type
        && media::canonical(&document.declared_media_type) != detected
    {
        reasons.add(
            TIPO_FILE_DICHIARATO_ERRATO,
            role,
            format!(
                "Il tipo indicato per il file «{name}» non corrisponde al suo contenuto, che \
                 risulta essere {}: verifichi di aver allegato il file giusto.",
                media::display_name(detected)
            ),
        );
    }
}

/// "PDF", "PDF e PNG", "PDF, JPEG e PNG".
fn allowed_list(media_types: &[String]) -> String {
    let names: Vec<&str> = media_types
        .iter()
        .map(|media_type| media::display_name(media_type))
        .collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} e {last}", rest.join(", ")),
    }
}

/// Sizes the way a citizen reads them: binary multiples, Italian decimal comma. Rounded up,
/// so that a file just over a limit never reads as exactly the limit.
pub(super) fn human_size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    if bytes >= MIB {
        let tenths = (bytes * 10).div_ceil(MIB);
        if tenths.is_multiple_of(10) {
            format!("{} MB", tenths / 10)
        } else {
            format!("{},{} MB", tenths / 10, tenths % 10)
        }
    } else if bytes >= KIB {
        format!("{} KB", bytes.div_ceil(KIB))
    } else {
        format!("{bytes} byte")
    }
}
