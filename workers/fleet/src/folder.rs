//! `sportello folder`: the citizen's folder as the counter operator reads it.

use chrono_tz::Europe::Rome;
use sportello_shared::store::FolderEntry;
use std::fmt::Write;

/// The folder as JSON: `{ "tax_code": …, "practices": [ … with history … ] }`.
pub fn to_json(tax_code: &str, folder: &[FolderEntry]) -> serde_json::Value {
    serde_json::json!({ "tax_code": tax_code, "practices": folder })
}

/// The folder as text, times in Italian local time.
pub fn to_text(tax_code: &str, folder: &[FolderEntry]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Cartella del cittadino {tax_code}: {} pratiche",
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
    }
    out
}
