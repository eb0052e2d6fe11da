//! What the notification tests share: samples whose applicants write from addresses of their
//! own, and maildev's REST API read for those addresses only.
//!
//! Every test runs against one maildev, in parallel with others; rewriting each applicant's
//! address to `<local>+<namespace>@<domain>` makes a test's recipients its own, so it never
//! counts (or deletes) anyone else's email.

#![allow(dead_code)]

use serde::Deserialize;
use sportello_notification::record::{self, Notification};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use uuid::Uuid;

/// A sample submission copied with its applicant's addresses made unique to one test.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The original sample's file name (the key of `samples/expected.json`).
    pub name: String,
    pub file: PathBuf,
    pub email: String,
    pub pec: Option<String>,
}

/// `local@domain` → `local+tag@domain`; anything that is not one address is left alone (the
/// invalid samples must stay invalid).
pub fn tagged(address: &str, tag: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) if !domain.contains('@') && !local.is_empty() => {
            format!("{local}+{tag}@{domain}")
        }
        _ => address.to_owned(),
    }
}

/// Copies `files` into `dir` with the applicants' email and PEC addresses tagged.
pub fn rewrite_samples(files: &[PathBuf], tag: &str, dir: &Path) -> Vec<Sample> {
    std::fs::create_dir_all(dir).unwrap();
    files
        .iter()
        .map(|file| {
            let mut submission: serde_json::Value =
                serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
            let applicant = &mut submission["applicant"];
            let email = tagged(applicant["email"].as_str().unwrap(), tag);
            applicant["email"] = email.clone().into();
            let pec = applicant["pec"].as_str().map(|pec| tagged(pec, tag));
            if let Some(pec) = &pec {
                applicant["pec"] = pec.clone().into();
            }
            let name = file.file_name().unwrap().to_str().unwrap().to_owned();
            let copy = dir.join(&name);
            std::fs::write(&copy, serde_json::to_vec_pretty(&submission).unwrap()).unwrap();
            Sample {
                name,
                file: copy,
                email,
                pec,
            }
        })
        .collect()
}

/// One email as maildev parsed it.
#[derive(Debug, Clone, Deserialize)]
pub struct Email {
    pub id: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub html: String,
    #[serde(default)]
    pub to: Vec<Party>,
    #[serde(default)]
    pub from: Vec<Party>,
    #[serde(default)]
    headers: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Party {
    pub address: String,
    #[serde(default)]
    pub name: String,
}

impl Email {
    /// The Message-ID header as sent.
    pub fn message_id(&self) -> &str {
        self.headers
            .get("message-id")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    }

    /// The HTML part as a reader sees its text: minijinja escapes `/`, quotes and the rest.
    pub fn html_text(&self) -> String {
        unescape_html(&self.html)
    }
}

pub fn unescape_html(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// maildev's REST API.
pub struct Inbox {
    base: String,
    http: reqwest::Client,
}

impl Inbox {
    pub fn new(web_api: &str) -> Inbox {
        assert!(
            !web_api.is_empty(),
            "smtp.web_api is empty: deploy/local/stack-up.sh writes maildev's address"
        );
        Inbox {
            base: web_api.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        }
    }

    pub async fn is_up(&self) -> bool {
        self.http
            .get(format!("{}/api/email?limit=1", self.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    /// Every email maildev holds for `address` (filtered by maildev, by the To header).
    pub async fn to(&self, address: &str) -> Vec<Email> {
        let response = self
            .http
            .get(format!("{}/api/email", self.base))
            .query(&[("to.address", address)])
            .send()
            .await
            .expect("maildev answers");
        assert!(
            response.status().is_success(),
            "maildev: {}",
            response.status()
        );
        response.json().await.expect("maildev's JSON")
    }

    /// Every email for any of `addresses`, each once.
    pub async fn to_any<'a>(&self, addresses: impl IntoIterator<Item = &'a String>) -> Vec<Email> {
        let mut seen = BTreeMap::new();
        let mut unique: Vec<&String> = addresses.into_iter().collect();
        unique.sort();
        unique.dedup();
        for address in unique {
            for email in self.to(address).await {
                seen.insert(email.id.clone(), email);
            }
        }
        seen.into_values().collect()
    }
}

/// The notifications of `ids`, flattened.
pub async fn notifications(pool: &sqlx::PgPool, ids: &[Uuid]) -> Vec<Notification> {
    record::of_practices(pool, ids)
        .await
        .unwrap()
        .into_values()
        .flatten()
        .collect()
}

/// Waits until each of `ids` has a notification in a final state (sent or failed_permanent).
pub async fn wait_until_settled(pool: &sqlx::PgPool, ids: &[Uuid], patience: Duration) {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let by_practice = record::of_practices(pool, ids).await.unwrap();
        let waiting: Vec<(Uuid, Option<String>)> = ids
            .iter()
            .filter_map(|id| {
                let status = by_practice
                    .get(id)
                    .and_then(|n| n.first())
                    .map(|n| n.status.clone());
                match status.as_deref() {
                    Some("sent" | "failed_permanent") => None,
                    _ => Some((*id, status)),
                }
            })
            .collect();
        if waiting.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} notifications never settled: {:?}",
            waiting.len(),
            &waiting[..waiting.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The Message-ID our notification worker gives the email about `state` of a practice.
pub fn message_id(practice_id: Uuid, state: &str, municipality_email: &str) -> String {
    let domain = municipality_email.rsplit_once('@').unwrap().1;
    sportello_notification::letter::message_id(practice_id, state, domain)
}
