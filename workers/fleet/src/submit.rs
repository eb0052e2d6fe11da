//! `sportello submit`: publishes submissions to the intake exchange, with confirms.
//!
//! The practice id is known before intake runs (it derives from the idempotency key), so each
//! confirmed publish prints its id at once. A file that is not a submission is refused here
//! with its reason, unless `--raw` asks to publish it as it is (operators use that to exercise
//! the error queue).

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use sportello_shared::broker::{self, Outgoing, Publisher};
use sportello_shared::config::BrokerSettings;
use sportello_shared::domain::contract::parse_submission;
use sportello_shared::domain::submission::practice_id_for;
use sportello_shared::messages::route;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Submitted {
    pub file: PathBuf,
    pub practice_id: Option<Uuid>,
}

/// Reads `file` and builds the message; `raw` skips the contract check. Staged keys are
/// checked against `staging_root` (see `ObjectStoreSettings::staging_root`).
pub fn prepare(
    file: &Path,
    exchange: &str,
    staging_root: &str,
    raw: bool,
) -> anyhow::Result<(Outgoing, Option<Uuid>)> {
    let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let practice_id = match parse_submission(&body, staging_root) {
        Ok(submission) => Some(practice_id_for(&submission.idempotency_key)),
        Err(_) if raw => None,
        Err(reason) => anyhow::bail!("{}: {reason}", file.display()),
    };
    let mut message = Outgoing::json(exchange, route::SUBMISSION, &(), practice_id);
    message.body = body;
    Ok((message, practice_id))
}

/// Publishes every file in order, each confirmed before the next; stops at the first failure.
pub async fn submit(
    settings: &BrokerSettings,
    exchange: &str,
    staging_root: &str,
    files: &[PathBuf],
    raw: bool,
    mut on_submitted: impl FnMut(&Submitted),
) -> anyhow::Result<Vec<Submitted>> {
    // Check every file before publishing any, so a typo does not leave half a batch sent.
    let prepared = files
        .iter()
        .map(|file| prepare(file, exchange, staging_root, raw).map(|p| (file, p)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let connection = broker::connect(settings, "submit")
        .await
        .context("RabbitMQ")?;
    let publisher = Publisher::open(&connection).await?;
    let progress = progress_bar(files.len());
    let mut submitted = Vec::with_capacity(files.len());
    for (file, (message, practice_id)) in prepared {
        publisher
            .publish(&message)
            .await
            .with_context(|| format!("publishing {}", file.display()))?;
        let done = Submitted {
            file: file.clone(),
            practice_id,
        };
        progress.suspend(|| on_submitted(&done));
        progress.inc(1);
        submitted.push(done);
    }
    progress.finish_and_clear();
    let _ = connection.close(200, "done".into()).await;
    Ok(submitted)
}

fn progress_bar(len: usize) -> ProgressBar {
    if len < 2 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} submissions {elapsed}") {
        bar.set_style(style);
    }
    bar
}
