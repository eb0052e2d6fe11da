//! The segnatura's elements, built from the model: each party, document and identifier checked
//! against what the AgID schema accepts (a malformed host or tax code is refused, not repaired)
//! and turned into the element tree of [`super::xml`].

use super::xml::{Element, Ns};
use super::*;

pub(super) fn required<'a>(value: &'a str, field: &'static str) -> Result<&'a str, SegnaturaError> {
    if value.trim().is_empty() {
        Err(SegnaturaError::Blank(field))
    } else {
        Ok(value)
    }
}

pub(super) fn bool_text(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

pub(super) fn ipa(name: &'static str, code: &IpaCode) -> Result<Element, SegnaturaError> {
    let mut element = Element::prot(name).text(required(&code.code, name)?);
    if let Some(description) = &code.description {
        element = element.attr(Some(Ns::Prot), "descrizione", description);
    }
    Ok(element)
}

pub(super) fn identifier(
    name: &'static str,
    id: &RegistrationId,
) -> Result<Element, SegnaturaError> {
    let mut element = Element::prot(name)
        .child(ipa("CodiceAmministrazione", &id.administration)?)
        .child(ipa("CodiceAOO", &id.aoo)?)
        .child(Element::prot("CodiceRegistro").text(id.register.as_str()))
        .child(Element::prot("NumeroRegistrazione").text(&id.number.to_string()))
        .child(Element::prot("DataRegistrazione").text(&id.date.format("%Y-%m-%d").to_string()));
    if let Some(time) = id.time {
        element = element
            .child(Element::prot("OraRegistrazione").text(&time.format("%H:%M:%S").to_string()));
    }
    Ok(element)
}

pub(super) fn classification(class: &Classification) -> Result<Element, SegnaturaError> {
    let element = Element::prot("Classifica").child(
        Element::prot("Denominazione").text(required(&class.name, "Classifica/Denominazione")?),
    );
    Ok(match &class.code {
        ClassCode::Flat(code) => element
            .child(Element::prot("CodiceFlat").text(required(code, "Classifica/CodiceFlat")?)),
        ClassCode::Path(levels) => element.child(class_path("CodicePath", levels)?),
    })
}

/// `CodicePath` nests each deeper level in a `SubLivello` of the one above.
pub(super) fn class_path(
    name: &'static str,
    levels: &[ClassLevel],
) -> Result<Element, SegnaturaError> {
    let (first, deeper) = levels.split_first().ok_or(SegnaturaError::EmptyClassPath)?;
    let mut livello =
        Element::prot("Livello").text(required(&first.code, "Classifica/CodicePath/Livello")?);
    if let Some(description) = &first.description {
        livello = livello.attr(Some(Ns::Prot), "descrizione", description);
    }
    let mut element = Element::prot(name).child(livello);
    if !deeper.is_empty() {
        element = element.child(class_path("SubLivello", deeper)?);
    }
    Ok(element)
}

pub(super) fn party(name: &'static str, party: &Party) -> Result<Element, SegnaturaError> {
    let inner = match party {
        Party::Administration(pa) => administration(pa)?,
        Party::LegalPerson(org) => legal_person(org)?,
        Party::NaturalPerson(person) => natural_person(person)?,
        Party::ForeignAdministration(foreign) => foreign_administration(foreign)?,
    };
    Ok(Element::prot(name).child(inner))
}

pub(super) fn administration(pa: &Administration) -> Result<Element, SegnaturaError> {
    let mut element = Element::prot("Amministrazione").child(
        Element::prot("DenominazioneAmministrazione")
            .text(required(&pa.name, "DenominazioneAmministrazione")?),
    );
    if let Some(tax_code) = &pa.tax_code {
        element = element.child(Element::prot("CFAmministrazione").text(&partita_iva(tax_code)?));
    }
    element = element.child(ipa("CodiceIPAAmministrazione", &pa.ipa)?);
    if let Some(contacts) = &pa.contacts {
        element = element.child(contacts_element("ContattiAmministrazione", contacts));
    }
    if let Some(aoo) = &pa.aoo {
        element = element.child(ipa("CodiceIPAAOO", aoo)?);
    }
    if let Some(contacts) = &pa.aoo_contacts {
        element = element.child(contacts_element("ContattiAOO", contacts));
    }
    if let Some(uo) = &pa.uo {
        element = element.child(ipa("CodiceIPAUO", uo)?);
    }
    if let Some(contacts) = &pa.uo_contacts {
        element = element.child(contacts_element("ContattiUO", contacts));
    }
    for person in &pa.people {
        element = element.child(natural_person(person)?);
    }
    Ok(element)
}

pub(super) fn legal_person(org: &LegalPerson) -> Result<Element, SegnaturaError> {
    let mut element = Element::prot("PersonaGiuridica").child(
        Element::prot("Denominazione").text(required(&org.name, "PersonaGiuridica/Denominazione")?),
    );
    if let Some(vat) = &org.vat_number {
        element = element.child(Element::prot("PIVAoCF").text(&partita_iva(vat)?));
    }
    if let Some(contacts) = &org.contacts {
        element = element.child(contacts_element("ContattiPersonaGiuridica", contacts));
    }
    for person in &org.people {
        element = element.child(natural_person(person)?);
    }
    Ok(element)
}

pub(super) fn natural_person(person: &NaturalPerson) -> Result<Element, SegnaturaError> {
    let mut element = Element::prot("PersonaFisica")
        .child(Element::prot("Nome").text(required(&person.given_name, "PersonaFisica/Nome")?))
        .child(
            Element::prot("Cognome").text(required(&person.family_name, "PersonaFisica/Cognome")?),
        );
    if let Some(title) = &person.title {
        element = element.child(Element::prot("Titolo").text(title));
    }
    if let Some(cf) = &person.codice_fiscale {
        element = element.child(Element::prot("CodiceFiscale").text(&codice_fiscale(cf)?));
    }
    if let Some(contacts) = &person.contacts {
        element = element.child(contacts_element("Contatti", contacts));
    }
    Ok(element)
}

pub(super) fn foreign_administration(
    foreign: &ForeignAdministration,
) -> Result<Element, SegnaturaError> {
    let mut element = Element::prot("AmministrazioneEstera").child(
        Element::prot("DenominazioneAmministrazione").text(required(
            &foreign.name,
            "AmministrazioneEstera/DenominazioneAmministrazione",
        )?),
    );
    if let Some(office) = &foreign.office {
        element = element.child(Element::prot("DenominazioneUfficio").text(office));
    }
    if let Some(contacts) = &foreign.contacts {
        element = element.child(contacts_element("ContattiAmministrazione", contacts));
    }
    Ok(element)
}

pub(super) fn contacts_element(name: &'static str, contacts: &Contacts) -> Element {
    let mut element = Element::prot(name);
    for email in &contacts.emails {
        element = element.child(
            Element::prot("IndirizzoTelematico")
                .attr(Some(Ns::Prot), "tipo", "smtp")
                .text(email),
        );
    }
    for phone in &contacts.phones {
        element = element.child(Element::prot("Telefono").text(phone));
    }
    element
}

pub(super) fn document(name: &'static str, doc: &Document) -> Result<Element, SegnaturaError> {
    let mut element = Element::prot(name)
        .attr(
            Some(Ns::Prot),
            "nomeFile",
            required(&doc.file_name, "Documento/nomeFile")?,
        )
        .attr(
            Some(Ns::Prot),
            "mimeType",
            required(&doc.mime_type, "Documento/mimeType")?,
        );
    if let Some(description) = &doc.description {
        element = element.child(Element::prot("Descrizione").text(description));
    }
    element = element.child(
        Element::prot("Impronta")
            .attr(Some(Ns::Prot), "algoritmo", FINGERPRINT_ALGORITHM)
            .text(&doc.fingerprint.to_base64()),
    );
    if let Some(location) = &doc.location {
        element = element.child(
            Element::prot("CollocazioneTelematica")
                .child(Element::prot("HostValue").text(host_value(&location.host)?))
                .child(Element::prot("PathValue").text(&path_value(required(
                    &location.path,
                    "CollocazioneTelematica/PathValue",
                )?))),
        );
    }
    Ok(element)
}

/// A host is configuration, so a malformed one is refused rather than repaired.
pub(super) fn host_value(raw: &str) -> Result<&str, SegnaturaError> {
    let invalid = || SegnaturaError::InvalidHost(raw.to_owned());
    let rest = match raw.split_once("://") {
        Some((scheme, rest)) => {
            let mut chars = scheme.chars();
            let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
            if !scheme_ok {
                return Err(invalid());
            }
            rest
        }
        None => raw,
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (name, port) = match rest.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (rest, None),
    };
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'));
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    if name_ok && port_ok {
        Ok(raw)
    } else {
        Err(invalid())
    }
}

/// Percent-encodes (RFC 3986, UTF-8) every byte but unreserved characters and `/`, which
/// always yields a valid relative reference, whatever the file name in the path.
pub(super) fn path_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The schema's pattern for a person's codice fiscale, omocodia letters included. The check
/// character is validation's business; here only what the schema would reject is refused.
pub(super) fn codice_fiscale(raw: &str) -> Result<String, SegnaturaError> {
    let cf = raw.trim().to_ascii_uppercase();
    let b = cf.as_bytes();
    let letter = |c: u8| c.is_ascii_uppercase();
    let digit = |c: u8| c.is_ascii_digit() || b"LMNPQRSTUV".contains(&c);
    let well_formed = b.len() == 16
        && b[..6].iter().all(|&c| letter(c))
        && b[6..8].iter().all(|&c| digit(c))
        && b"ABCDEHLMPRST".contains(&b[8])
        && b[9..11].iter().all(|&c| digit(c))
        && letter(b[11])
        && b[12..15].iter().all(|&c| digit(c))
        && letter(b[15]);
    if well_formed {
        Ok(cf)
    } else {
        Err(SegnaturaError::InvalidCodiceFiscale(raw.to_owned()))
    }
}

pub(super) fn partita_iva(raw: &str) -> Result<String, SegnaturaError> {
    let value = raw.trim();
    if value.len() == 11 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(value.to_owned())
    } else {
        Err(SegnaturaError::InvalidPartitaIva(raw.to_owned()))
    }
}

// ---------------------------------------------------------------------------------------------
// A small element tree that serialises straight to Exclusive XML Canonicalization form.
// ---------------------------------------------------------------------------------------------
