//! `sportello folder`: the citizen's folder as the counter operator reads it.

use chrono_tz::Europe::Rome;
use sportello_notification::record::{self, Notifications};
use sportello_register::register::Registration;
use sportello_shared::domain::tax_code::FiledTaxCode;
use sportello_shared::store::{FolderEntry, Store};
use std::fmt::Write;
use uuid::Uuid;

/// The folder as JSON: `{ "tax_code": …, "practices": [ … with history and notifications … ] }`.
pub fn to_json(
    tax_code: &FiledTaxCode,
    folder: &[FolderEntry],
    notifications: &Notifications,
) -> serde_json::Value {
    let mut value = serde_json::json!({ "tax_code": tax_code.as_str(), "practices": folder });
    if let Some(practices) = value["practices"].as_array_mut() {
        for (practice, entry) in practices.iter_mut().zip(folder) {
            practice["notifications"] = serde_json::to_value(
                notifications
                    .get(&entry.practice.id)
                    .map_or(&[][..], Vec::as_slice),
            )
            .unwrap_or_default();
        }
    }
    value
}

/// The emails sent (or tried) about the practices of a folder.
pub async fn notifications(store: &Store, folder: &[FolderEntry]) -> anyhow::Result<Notifications> {
    let ids: Vec<Uuid> = folder.iter().map(|entry| entry.practice.id).collect();
    Ok(record::of_practices(store.pool(), &ids).await?)
}

/// The folder as text, times in Italian local time.
pub fn to_text(
    tax_code: &FiledTaxCode,
    folder: &[FolderEntry],
    notifications: &Notifications,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Cartella del cittadino {}: {} pratiche",
        tax_code.as_str(),
        folder.len()
    );
    for entry in folder {
        let p = &entry.practice;
        let _ = writeln!(out);
        let _ = writeln!(out, "Pratica {}  [{}]", p.id, p.state);
        let _ = writeln!(out, "  tipo:     {}", p.practice_type);
        let _ = writeln!(out, "  oggetto:  {}", p.subject);
        let channel = match &p.operator_id {
            Some(operator) => format!("{} (operatore {operator})", p.channel),
            None => p.channel.clone(),
        };
        let _ = writeln!(out, "  canale:   {channel}");
        if let Some(clock) = &entry.procedure {
            let mut term = format!(
                "entro il {} ({} giorni dal {}",
                clock.due_on.format("%d/%m/%Y"),
                clock.term_days,
                clock.started_on.format("%d/%m/%Y")
            );
            if clock.suspended_days > 0 {
                let _ = write!(term, ", più {} di sospensione", clock.suspended_days);
            }
            term.push(')');
            if let Some(since) = clock.suspended_since {
                let _ = write!(term, ", sospeso dal {}", since.format("%d/%m/%Y"));
            }
            if let Some(at) = clock.concluded_at {
                let _ = write!(
                    term,
                    ", concluso il {}",
                    at.with_timezone(&Rome).format("%d/%m/%Y")
                );
            }
            let _ = writeln!(out, "  termine:  {term}");
        }
        if let Some(practice) = p.integrates {
            let _ = writeln!(out, "  integra:  la pratica {practice}");
        }
        if let Some(reasons) = p.rejection_reasons.as_ref().and_then(|r| r.as_array()) {
            let _ = writeln!(out, "  motivi del rifiuto:");
            for reason in reasons {
                let message = reason
                    .get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or("?");
                let _ = writeln!(out, "    - {message}");
            }
        }
        let _ = writeln!(out, "  storia:");
        for step in &entry.history {
            let at = step.at.with_timezone(&Rome).format("%Y-%m-%d %H:%M:%S");
            let _ = writeln!(out, "    {at}  {:<22} {}", step.to, step.actor);
        }
        if let Some(sent) = notifications.get(&p.id) {
            let _ = writeln!(out, "  notifiche:");
            for n in sent {
                let at = n
                    .updated_at
                    .with_timezone(&Rome)
                    .format("%Y-%m-%d %H:%M:%S");
                let _ = writeln!(
                    out,
                    "    {at}  {:<22} {} {} a {} (tentativi: {})",
                    n.event, n.template, n.channel, n.recipient, n.attempts
                );
                let _ = writeln!(out, "      stato: {}", n.status);
                if let Some(error) = &n.last_error {
                    let _ = writeln!(out, "      ultimo errore: {error}");
                }
            }
        }
    }
    out
}

/// A registration as the protocol officer reads it, with its segnatura.
pub fn registration_text(r: &Registration) -> String {
    let mut out = String::new();
    let at = r
        .registered_at
        .with_timezone(&Rome)
        .format("%Y-%m-%d %H:%M:%S");
    let _ = writeln!(
        out,
        "Protocollo {} n. {}/{}  ({})",
        r.register, r.year, r.number, r.direction
    );
    let _ = writeln!(out, "  AOO:          {}", r.aoo);
    let _ = writeln!(out, "  registrato:   {at}");
    let _ = writeln!(out, "  pratica:      {}", r.practice_id);
    let _ = writeln!(out, "  oggetto:      {}", r.subject);
    if let Some((year, number)) = r.refers_to {
        let _ = writeln!(out, "  riferimento:  {year}/{number}");
    }
    if let Some(documents) = r.documents.as_array() {
        let _ = writeln!(out, "  documenti:");
        for d in documents {
            let _ = writeln!(
                out,
                "    {}  {}  impronta SHA-256 {}",
                d["file_name"].as_str().unwrap_or("?"),
                d["media_type"].as_str().unwrap_or("?"),
                d["impronta"].as_str().unwrap_or("?")
            );
        }
    }
    match &r.annulment {
        Some(a) => {
            let when = a
                .annulled_at
                .with_timezone(&Rome)
                .format("%Y-%m-%d %H:%M:%S");
            let _ = writeln!(
                out,
                "  ANNULLATA il {when} da {}: {} (provvedimento: {})",
                a.operator, a.reason, a.measure
            );
        }
        None => {
            let _ = writeln!(out, "  stato:        valida");
        }
    }
    let _ = writeln!(out, "  segnatura:");
    let _ = writeln!(out, "{}", r.segnatura);
    out
}
