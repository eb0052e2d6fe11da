//! `sportello dlq`: the error queues for operations — list, show, replay, discard.
//!
//! The same functions as the HTTP endpoints (`sportello_api::dlq`): listing parks every waiting
//! message in PostgreSQL first, so the ids printed here stay valid; nothing is acked before it
//! is committed there, and nothing is deleted afterwards.

use crate::app::load_topology;
use anyhow::Context;
use chrono_tz::Europe::Rome;
use clap::Subcommand;
use sportello_api::dlq::{self, DlqError, Parked};
use sportello_shared::broker::{self, Publisher};
use sportello_shared::config::Settings;
use sportello_shared::store::Store;
use std::fmt::Write;

#[derive(Debug, Subcommand)]
pub enum DlqAction {
    /// Parks what waits in the error queues and lists the messages waiting for an operator.
    List {
        /// Replayed and discarded messages too.
        #[arg(long)]
        all: bool,
        /// Only this stage (intake, validation, protocol, …).
        #[arg(long)]
        stage: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One parked message with its headers and body.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Puts a parked message (or all of them) back into the queue it failed in.
    Replay {
        #[arg(required_unless_present = "all")]
        id: Option<i64>,
        #[arg(long, conflicts_with = "id")]
        all: bool,
        /// With --all: only this stage.
        #[arg(long, requires = "all")]
        stage: Option<String>,
    },
    /// Gives up on a parked message; it stays readable, with the reason and the operator.
    Discard {
        id: i64,
        #[arg(long)]
        reason: String,
    },
}

/// Who the settlement is recorded for: `--operator`, `$SPORTELLO_OPERATOR`, or the login.
pub fn operator_name(explicit: Option<String>) -> String {
    explicit
        .filter(|o| !o.trim().is_empty())
        .unwrap_or_else(|| {
            let login = std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_else(|_| "unknown".to_owned());
            format!("ops:{login}")
        })
}

pub async fn execute(settings: Settings, action: DlqAction, operator: &str) -> anyhow::Result<()> {
    let store = Store::connect(&settings.database)
        .await
        .context("PostgreSQL")?;
    let pool = store.pool();
    let topology = load_topology(&settings)?;
    let connection = broker::connect(&settings.broker, "dlq")
        .await
        .context("RabbitMQ")?;
    let channel = connection.create_channel().await?;
    let result = async {
        match action {
            DlqAction::List { all, stage, json } => {
                let swept = dlq::sweep(pool, &topology, &channel).await?;
                let parked = dlq::list(pool, all, stage.as_deref()).await?;
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(
                            &serde_json::json!({ "swept": swept, "messages": parked })
                        )?
                    );
                } else {
                    if swept.parked > 0 {
                        eprintln!(
                            "{} new message(s) taken from the error queues",
                            swept.parked
                        );
                    }
                    print!("{}", table(&parked));
                }
            }
            DlqAction::Show { id, json } => {
                let detail = dlq::show(pool, id).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&detail)?);
                } else {
                    print!("{}", table(std::slice::from_ref(&detail.parked)));
                    println!("headers:");
                    println!("{}", serde_json::to_string_pretty(&detail.headers)?);
                    println!("body ({} bytes):", detail.body.size_bytes);
                    match &detail.body.json {
                        Some(json) => println!("{}", serde_json::to_string_pretty(json)?),
                        None => println!("{} (base64)", detail.body.base64),
                    }
                }
            }
            DlqAction::Replay { id, all, stage } => {
                // Signed, so that a replayed message's vouched sender is carried over.
                let publisher =
                    Publisher::open_signed(&connection, &broker::login_user(&settings.broker)?)
                        .await?;
                let ids = if all {
                    dlq::sweep(pool, &topology, &channel).await?;
                    dlq::list(pool, false, stage.as_deref())
                        .await?
                        .into_iter()
                        .map(|p| p.id)
                        .collect()
                } else {
                    id.into_iter().collect::<Vec<_>>()
                };
                for id in ids {
                    match dlq::replay(pool, &publisher, id, operator).await {
                        Ok(done) => println!("{id}\treplayed to {}", done.work_queue),
                        Err(DlqError::AlreadySettled { .. }) if all => {}
                        Err(err) => return Err(err.into()),
                    }
                }
            }
            DlqAction::Discard { id, reason } => {
                let done = dlq::discard(pool, id, operator, &reason).await?;
                println!(
                    "{id}\tdiscarded by {operator}: {}",
                    done.settlement
                        .map(|s| s.reason.unwrap_or_default())
                        .unwrap_or_default()
                );
            }
        }
        anyhow::Ok(())
    }
    .await;
    let _ = connection.close(200, "done".into()).await;
    result
}

/// The parked messages as operators read them, times in Italian local time.
pub fn table(parked: &[Parked]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>6}  {:<12} {:<9} {:>8}  {:<19}  {:<36}  reason",
        "id", "stage", "status", "attempts", "failed at", "practice"
    );
    for p in parked {
        let failed = p
            .failed_at
            .map(|at| {
                at.with_timezone(&Rome)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_else(|| "-".to_owned());
        let practice = p
            .practice_id
            .map(|id| id.to_string())
            .unwrap_or_else(|| "-".to_owned());
        let _ = writeln!(
            out,
            "{:>6}  {:<12} {:<9} {:>8}  {:<19}  {:<36}  {}",
            p.id, p.stage, p.status, p.attempts, failed, practice, p.reason
        );
    }
    out
}
