//! A back-office simulator: stands in for the vendors' applications in the demo and the tests.
//!
//! It consumes every back office's queue (from `queues.toml`) and answers on the `returns`
//! exchange per the contract in `sportello_backoffice`. What it answers is data, in a
//! TOML file (`samples/backoffice-sim.toml`): per back office and/or practice type, complete,
//! deny or ask for an integration, at once or after a delay. Realtime types (catalog `handling`)
//! are completed at once unless a rule says otherwise; deferred ones are first marked
//! `in_progress`. A completion carries a small generated PDF certificate. A citizen's
//! integration is answered on the practice it integrates: completed, unless a rule denies it.
//!
//! A message is acknowledged only after its answers are confirmed by the broker, so a crash of
//! the simulator repeats answers (same `return_id`, applied once) and never loses one.

use anyhow::Context;
use base64::Engine;
use futures::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use serde::Deserialize;
use sportello_backoffice::{
    BackOfficeReturn, PracticeRequest, RETURN_ROUTING_KEY, ResultDocument, ReturnOutcome,
    SCHEMA_VERSION, ToBackOffice,
};
use sportello_shared::broker::{self, Outgoing, Publisher};
use sportello_shared::catalog::{Catalog, Handling};
use sportello_shared::config::BrokerSettings;
use sportello_shared::objects::sha256_hex;
use sportello_shared::topology::Topology;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// What the simulator does with a practice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Complete,
    Deny,
    Integrate,
    /// A preavviso di rigetto (art. 10-bis) with the rule's reasons; the citizen's observations
    /// are then answered with a completion.
    Preavviso,
    /// The office takes the practice in hand (`in_progress`) and never decides: for a type whose
    /// silence is consent, the term runs out into `silent_consent` (art. 20 L. 241/1990).
    Silence,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Matches when absent.
    pub back_office: Option<String>,
    pub practice_type: Option<String>,
    pub action: Action,
    /// Seconds between `in_progress` and the outcome; 0 answers at once.
    #[serde(default)]
    pub delay_secs: u64,
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default)]
    pub missing: Vec<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Delay of deferred types without a rule.
    #[serde(default)]
    pub deferred_delay_secs: u64,
}

/// The whole behaviour file: the first matching rule wins; without one, complete.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    pub defaults: Defaults,
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
}

/// The simulator's decision for one practice.
#[derive(Debug, Clone)]
pub struct Decision {
    pub action: Action,
    pub delay: Duration,
    pub rule: Option<Rule>,
}

impl Behaviour {
    pub fn load(path: &Path) -> anyhow::Result<Behaviour> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{}", path.display()))
    }

    /// `realtime`: the catalog's handling of the type; without a rule, realtime types are
    /// completed at once and deferred ones after the default delay.
    pub fn decide(&self, back_office: &str, practice_type: &str, realtime: bool) -> Decision {
        let found = self.rules.iter().find(|rule| {
            rule.back_office.as_deref().is_none_or(|b| b == back_office)
                && rule
                    .practice_type
                    .as_deref()
                    .is_none_or(|t| t == practice_type)
        });
        match found {
            Some(rule) => Decision {
                action: rule.action,
                delay: Duration::from_secs(rule.delay_secs),
                rule: Some(rule.clone()),
            },
            None => Decision {
                action: Action::Complete,
                delay: Duration::from_secs(if realtime {
                    0
                } else {
                    self.defaults.deferred_delay_secs
                }),
                rule: None,
            },
        }
    }
}

/// Consumes every back office's queue until `shutdown`.
pub async fn run(
    settings: &BrokerSettings,
    topology: &Topology,
    behaviour: Behaviour,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let returns = topology.exchange("returns")?.name.clone();
    let behaviour = Arc::new((behaviour, Catalog::embedded()?));
    let mut offices = JoinSet::new();
    for (office, queue) in topology.back_offices() {
        // Each office logs in as itself: it may read only its queue, and its returns carry
        // its login as the broker-checked user_id the returns worker trusts.
        let login = topology
            .back_office_login(office)
            .with_context(|| format!("queues.toml: back office {office} has no login"))?;
        let (office, queue) = (office.to_owned(), queue.to_owned());
        let (settings, returns, behaviour, shutdown) = (
            settings.as_party(login),
            returns.clone(),
            behaviour.clone(),
            shutdown.clone(),
        );
        offices.spawn(async move {
            // A lost connection is reopened: the simulator must outlive broker restarts.
            while !shutdown.is_cancelled() {
                if let Err(err) =
                    serve(&settings, &office, &queue, &returns, &behaviour, &shutdown).await
                {
                    warn!(%office, error = %err, "back office simulator reconnecting");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.cancelled() => {}
                    }
                }
            }
        });
    }
    info!(offices = offices.len(), "back-office simulator running");
    while offices.join_next().await.is_some() {}
    Ok(())
}

async fn serve(
    settings: &BrokerSettings,
    office: &str,
    queue: &str,
    returns: &str,
    behaviour: &Arc<(Behaviour, Catalog)>,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let connection = broker::connect(settings, &format!("backoffice-sim-{office}")).await?;
    let channel = connection.create_channel().await?;
    channel.basic_qos(64, BasicQosOptions::default()).await?;
    let publisher =
        Arc::new(Publisher::open_signed(&connection, &broker::login_user(settings)?).await?);
    let mut consumer = channel
        .basic_consume(
            queue.into(),
            format!("sim-{office}").as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut in_hand = JoinSet::new();
    loop {
        let delivery = tokio::select! {
            next = consumer.next() => match next {
                Some(delivery) => delivery?,
                None => anyhow::bail!("consumer closed"),
            },
            _ = shutdown.cancelled() => break,
        };
        let (behaviour, publisher, returns, office) = (
            behaviour.clone(),
            publisher.clone(),
            returns.to_owned(),
            office.to_owned(),
        );
        in_hand.spawn(async move {
            let answers = match ToBackOffice::parse(&delivery.data) {
                Ok(ToBackOffice::Practice(request)) => {
                    let (behaviour, catalog) = &*behaviour;
                    let realtime = catalog
                        .get(&request.practice.practice_type)
                        .is_some_and(|t| t.handling == Handling::Realtime);
                    answer(behaviour, realtime, &publisher, &returns, &office, &request).await
                }
                Ok(ToBackOffice::Withdrawal(withdrawal)) => {
                    info!(practice_id = %withdrawal.practice_id, by = %withdrawal.by, "practice withdrawn: work stopped");
                    Ok(())
                }
                Ok(ToBackOffice::Reminder(reminder)) => {
                    info!(practice_id = %reminder.practice_id, event = %reminder.event, due_on = %reminder.due_on, "term reminder noted");
                    Ok(())
                }
                Err(reason) => {
                    warn!(%office, %reason, "unreadable message dropped");
                    Ok(())
                }
            };
            match answers {
                Ok(()) => {
                    let _ = delivery.ack(BasicAckOptions::default()).await;
                }
                // Not acked: the broker gives it again when the channel closes.
                Err(err) => warn!(%office, error = %err, "answer not published"),
            }
        });
        while in_hand.try_join_next().is_some() {}
    }
    in_hand.abort_all();
    let _ = connection.close(200, "simulator stopping".into()).await;
    Ok(())
}

async fn answer(
    behaviour: &Behaviour,
    realtime: bool,
    publisher: &Publisher,
    returns: &str,
    office: &str,
    request: &PracticeRequest,
) -> anyhow::Result<()> {
    let practice = &request.practice;
    let mut decision = behaviour.decide(office, &practice.practice_type, realtime);
    // A citizen's integration answers the office's request: the practice it names goes on, and
    // asking again for the same thing would loop for ever.
    if practice.integrates.is_some()
        && matches!(decision.action, Action::Integrate | Action::Preavviso)
    {
        decision.action = Action::Complete;
    }
    let answered = practice.integrates.unwrap_or(practice.id);
    let publish = |suffix: &str, outcome: ReturnOutcome| {
        let body = BackOfficeReturn {
            schema_version: SCHEMA_VERSION,
            return_id: format!("{}:{suffix}", request.dispatch_id),
            practice_id: answered,
            back_office: office.to_owned(),
            outcome,
        };
        let mut message = Outgoing::json(returns, RETURN_ROUTING_KEY, &body, Some(answered));
        message.message_id = Some(body.return_id.clone());
        async move { publisher.publish(&message).await }
    };
    if decision.action == Action::Silence {
        info!(practice_id = %answered, "the office stays silent: the term will run out");
        publish("in_progress", ReturnOutcome::InProgress).await?;
        return Ok(());
    }
    if !decision.delay.is_zero() {
        publish("in_progress", ReturnOutcome::InProgress).await?;
        tokio::time::sleep(decision.delay).await;
    }
    let rule = decision.rule.as_ref();
    let outcome = match decision.action {
        Action::Complete => ReturnOutcome::Completed {
            outcome: format!(
                "La pratica «{}» è stata accolta (protocollo n. {} del {}).",
                practice.subject, request.protocol.number, request.protocol.date
            ),
            documents: vec![certificate(request)],
        },
        Action::Deny => ReturnOutcome::Denied {
            reasons: rule
                .map(|r| r.reasons.clone())
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| vec!["La richiesta non possiede i requisiti previsti.".into()]),
        },
        Action::Preavviso => ReturnOutcome::PreavvisoRigetto {
            reasons: rule
                .map(|r| r.reasons.clone())
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| vec!["La richiesta non possiede i requisiti previsti.".into()]),
            message: rule.and_then(|r| r.message.clone()).unwrap_or_default(),
        },
        // Taken in hand above, and never decided.
        Action::Silence => return Ok(()),
        Action::Integrate => ReturnOutcome::IntegrationRequested {
            missing: rule
                .map(|r| r.missing.clone())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| vec!["Documento di identità in corso di validità".into()]),
            deadline: (chrono::Utc::now() + chrono::Duration::days(30)).date_naive(),
            message: rule.and_then(|r| r.message.clone()).unwrap_or_else(|| {
                "Per completare la pratica servono i documenti indicati.".into()
            }),
        },
    };
    publish("outcome", outcome).await?;
    Ok(())
}

/// A one-page PDF saying what was granted: enough to be a real result document.
pub fn certificate(request: &PracticeRequest) -> ResultDocument {
    let practice = &request.practice;
    let line = format!(
        "Certificato - pratica {} prot. {}/{} - {} {}",
        practice.practice_type,
        request.protocol.year,
        request.protocol.number,
        practice.applicant.given_name,
        practice.applicant.family_name
    );
    let bytes = pdf_with_line(&line);
    ResultDocument {
        file_name: format!("esito-{}.pdf", request.protocol.number),
        media_type: "application/pdf".into(),
        content_base64: base64::engine::general_purpose::STANDARD.encode(&bytes),
        sha256: sha256_hex(&bytes),
    }
}

/// A minimal valid PDF 1.4 with one line of text; the cross-reference table is computed.
pub fn pdf_with_line(text: &str) -> Vec<u8> {
    let escaped: String = text
        .chars()
        .map(|c| if c.is_ascii() { c } else { '?' })
        .collect::<String>()
        .replace('\\', "\\\\")
        .replace('(', "\\(")
        .replace(')', "\\)");
    let content = format!("BT /F1 12 Tf 50 780 Td ({escaped}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}
