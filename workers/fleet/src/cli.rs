//! The command line: what operators and operations can ask of the fleet.

use crate::app::{App, check_routes, load_catalog, load_topology};
use crate::{dlq, fleet, folder, http, operator, practice, startup, submit};
use anyhow::Context;
use clap::{Parser, Subcommand};
use sportello_api::auth::OperatorRole;
use sportello_register::{daily, register};
use sportello_shared::config::Settings;
use sportello_shared::domain::protocol_number::ProtocolNumber;
use sportello_shared::objects::ObjectStore;
use sportello_shared::store::Store;
use sportello_shared::telemetry;
use sportello_shared::{broker_users, parties};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "sportello",
    version,
    about = "Back end of the municipality's one-stop citizen desk"
)]
pub struct Cli {
    /// Configuration file (default: $SPORTELLO_CONFIG, ./sportello.toml, /etc/sportello/sportello.toml).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// The roles you act in, for the commands that act as an operator: counter,
    /// protocol_officer, operations (comma-separated). See [`require_role`].
    #[arg(long, global = true, env = "SPORTELLO_OPERATOR_ROLES")]
    pub operator_roles: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The RabbitMQ topology declared in queues.toml.
    Topology {
        #[command(subcommand)]
        action: TopologyAction,
    },
    /// The database schema, as its owner (`database.owner_url`).
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
    /// Runs workers in this process: `all`, or names (intake, validation).
    Run {
        #[arg(default_value = "all")]
        workers: Vec<String>,
    },
    /// Publishes submissions (JSON files) and prints one practice id per submission.
    Submit {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Publish the files as they are, even if they are not valid submissions.
        #[arg(long)]
        raw: bool,
        /// The channel that submits, whose broker login is used: portal or counter.
        #[arg(long = "as", value_enum, default_value = "portal")]
        sender: Sender,
    },
    /// The broker's users (one per party, with its permissions: see `parties`) and policies.
    Broker {
        #[command(subcommand)]
        action: BrokerAction,
    },
    /// The protocol register: show, annul, daily register.
    Protocol {
        #[command(subcommand)]
        action: ProtocolAction,
    },
    /// The citizen's folder: practices, status and history.
    Folder {
        tax_code: String,
        #[arg(long)]
        json: bool,
    },
    /// Serves the HTTP API on http.listen until SIGINT/SIGTERM.
    Serve,
    /// Mints a bearer token for the HTTP API: an operator's, signed with http.signing_key; or,
    /// with --issuer and --key, one as another configured issuer (the local stack plays the
    /// portal and the counter application with their keys).
    Token {
        #[arg(long, value_enum)]
        role: http::TokenRole,
        /// The citizen's tax code (citizen tokens).
        #[arg(long, required_if_eq("role", "citizen"))]
        cf: Option<String>,
        /// The operator's id (operator tokens).
        #[arg(long, required_if_eq("role", "operator"))]
        operator_id: Option<String>,
        /// The operator's roles: counter, protocol_officer, operations (comma-separated).
        #[arg(long, default_value = "counter")]
        roles: String,
        /// Sign as this issuer of [http.issuers] instead of sportello (needs --key).
        #[arg(long, requires = "key")]
        issuer: Option<String>,
        /// That issuer's PEM PKCS#8 private key.
        #[arg(long, requires = "issuer")]
        key: Option<PathBuf>,
        /// How long the token is valid: 30m, 8h, 7d.
        #[arg(long, default_value = "8h")]
        valid_for: String,
        /// Print a citizen's hand-over link to the citizen's area instead of the bare token.
        #[arg(long)]
        link: bool,
    },
    /// Operators' accounts for the cruscotto: add (or reset), disable.
    Operator {
        #[command(subcommand)]
        action: operator::OperatorAction,
    },
    /// A practice, by hand: withdraw it, hand over its product at the counter.
    Practice {
        #[command(subcommand)]
        action: PracticeAction,
    },
    /// The error queues: list, show, replay, discard failed messages.
    Dlq {
        #[command(subcommand)]
        action: dlq::DlqAction,
        /// Who is acting, recorded with each replay and discard (default: ops:$USER).
        #[arg(long, global = true, env = "SPORTELLO_OPERATOR")]
        operator: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BrokerAction {
    /// Creates or updates every party's user and permissions from queues.toml and
    /// [broker.logins], and the queues' policies, through the management API with the
    /// [broker.admin] login (idempotent).
    Users,
    /// Sets only the queues' policies from queues.toml (delivery limits, dead-lettering, retry
    /// delays): the running queues follow at once (idempotent).
    Policies,
}

/// Who publishes submissions: each has its own broker login, allowed only to write intake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sender {
    Portal,
    Counter,
}

impl Sender {
    pub fn party(self) -> &'static str {
        match self {
            Sender::Portal => "portal",
            Sender::Counter => "counter",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum DbAction {
    /// Applies the migrations this build embeds (idempotent); workers never migrate.
    Migrate,
}

#[derive(Debug, Subcommand)]
pub enum PracticeAction {
    /// Withdraws a practice before its outcome; its back office is told.
    Withdraw {
        id: uuid::Uuid,
        #[arg(long, value_enum)]
        by: practice::Requester,
        /// The operator who records it (with `--by operator`).
        #[arg(long, required_if_eq("by", "operator"))]
        operator: Option<String>,
    },
    /// Records that a completed practice's physical product was handed over.
    Deliver {
        id: uuid::Uuid,
        #[arg(long)]
        operator: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProtocolAction {
    /// A registration with its segnatura.
    Show {
        year: i32,
        number: ProtocolNumber,
        #[arg(long)]
        json: bool,
    },
    /// Annuls a registration: it stays readable, marked with date, operator and measure.
    Annul {
        year: i32,
        number: ProtocolNumber,
        #[arg(long)]
        reason: String,
        /// The authorising measure (provvedimento).
        #[arg(long)]
        measure: String,
        #[arg(long)]
        operator: String,
    },
    /// Produces (or finds) the daily register of a past day and stores it in the object store.
    DailyRegister {
        #[arg(long)]
        date: chrono::NaiveDate,
    },
}

#[derive(Debug, Subcommand)]
pub enum TopologyAction {
    /// Declares every exchange, queue and binding (idempotent).
    Apply,
    /// Checks queues.toml and the catalog's routes without touching the broker.
    Check,
}

/// Refuses a command that acts as an operator unless the person running it declares `role`
/// (`--operator-roles` or `$SPORTELLO_OPERATOR_ROLES`), as the HTTP API refuses a token
/// without it.
///
/// This is for accountability, not security: whoever runs `sportello` holds the database and
/// broker credentials and could do the same with psql. What the check gives is that an
/// operator states the hat they act in before an act recorded under their name, and that a
/// counter operator's script does not reach a protocol officer's command by accident. Reading
/// commands (folder, dlq list and show, protocol show) check nothing.
pub fn require_role(
    declared: Option<&str>,
    role: OperatorRole,
    command: &str,
) -> anyhow::Result<()> {
    let roles = OperatorRole::parse_list(declared.unwrap_or(""))
        .map_err(|e| anyhow::anyhow!("--operator-roles: {e}"))?;
    anyhow::ensure!(
        roles.contains(&role),
        "`sportello {command}` acts as an operator with the role `{0}`: pass --operator-roles {0} (or set SPORTELLO_OPERATOR_ROLES)",
        role.as_str()
    );
    Ok(())
}

pub async fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut settings = Settings::load(cli.config.as_deref())?;
    // Operators' commands and the fleet's start-up declare speak as `operations`; workers,
    // the HTTP API and `submit` choose their own party below.
    settings.broker = settings.broker.as_party(parties::OPERATIONS);
    telemetry::init(&settings.log);
    let declared = cli.operator_roles.as_deref();
    match &cli.command {
        Command::Dlq {
            action: dlq::DlqAction::Replay { .. },
            ..
        } => require_role(declared, OperatorRole::Operations, "dlq replay")?,
        Command::Dlq {
            action: dlq::DlqAction::Discard { .. },
            ..
        } => require_role(declared, OperatorRole::Operations, "dlq discard")?,
        Command::Protocol {
            action: ProtocolAction::Annul { .. },
        } => require_role(declared, OperatorRole::ProtocolOfficer, "protocol annul")?,
        Command::Protocol {
            action: ProtocolAction::DailyRegister { .. },
        } => require_role(
            declared,
            OperatorRole::ProtocolOfficer,
            "protocol daily-register",
        )?,
        Command::Practice {
            action: PracticeAction::Withdraw { .. },
        } => require_role(declared, OperatorRole::Counter, "practice withdraw")?,
        Command::Practice {
            action: PracticeAction::Deliver { .. },
        } => require_role(declared, OperatorRole::Counter, "practice deliver")?,
        _ => {}
    }
    match cli.command {
        Command::Topology {
            action: TopologyAction::Check,
        } => {
            let topology = load_topology(&settings)?;
            check_routes(&load_catalog(&settings)?, &topology)?;
            println!("queues.toml is complete and every catalog type has a route");
        }
        Command::Topology {
            action: TopologyAction::Apply,
        } => {
            let app = App::build(settings).await?;
            fleet::apply_topology(&app).await?;
            println!("topology applied");
        }
        Command::Db {
            action: DbAction::Migrate,
        } => {
            let version = Store::migrate(&settings.database)
                .await
                .context("PostgreSQL, as the schema owner")?;
            println!("database schema at version {version}");
        }
        Command::Run { workers } => {
            let workers = fleet::resolve(&workers)?;
            // Long-running: waits for its services (a stop while waiting is a clean exit).
            let shutdown = fleet::shutdown_on_signals();
            if let Some(app) = startup::app(settings, &shutdown).await? {
                fleet::run(Arc::new(app), &workers, shutdown).await?;
            }
        }
        Command::Broker {
            action: BrokerAction::Users,
        } => {
            let topology = load_topology(&settings)?;
            let users = broker_users::apply(&settings.broker, &topology).await?;
            println!(
                "{} broker users and their permissions set, and the queues' policies",
                users.len()
            );
        }
        Command::Broker {
            action: BrokerAction::Policies,
        } => {
            let topology = load_topology(&settings)?;
            let policies = broker_users::apply_policies(&settings.broker, &topology).await?;
            println!("{} queue policies set", policies.len());
        }
        Command::Submit { files, raw, sender } => {
            let topology = load_topology(&settings)?;
            let exchange = topology.exchange("intake")?.name.clone();
            submit::submit(
                &settings.broker.as_party(sender.party()),
                &exchange,
                settings.object_store.staging_root(),
                &files,
                raw,
                |done| match done.practice_id {
                    Some(id) => println!("{id}\t{}", done.file.display()),
                    None => println!("-\t{}", done.file.display()),
                },
            )
            .await?;
        }
        Command::Protocol { action } => protocol(settings, action).await?,
        Command::Folder { tax_code, json } => {
            let store = Store::connect(&settings.database)
                .await
                .context("PostgreSQL")?;
            let tax_code = sportello_shared::domain::tax_code::FiledTaxCode::file(&tax_code)?;
            let entries = store.folder(&tax_code).await?;
            let sent = folder::notifications(&store, &entries).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&folder::to_json(&tax_code, &entries, &sent))?
                );
            } else {
                print!("{}", folder::to_text(&tax_code, &entries, &sent));
            }
        }
        Command::Serve => {
            let shutdown = fleet::shutdown_on_signals();
            if let Some(app) = startup::app(settings, &shutdown).await? {
                http::serve(Arc::new(app), shutdown).await?;
            }
        }
        Command::Token {
            role,
            cf,
            operator_id,
            roles,
            issuer,
            key,
            valid_for,
            link,
        } => {
            let token = http::token(
                &settings.http,
                &http::TokenRequest {
                    role,
                    tax_code: cf.as_deref(),
                    operator_id: operator_id.as_deref(),
                    roles: &roles,
                    issuer: issuer.as_deref().zip(key.as_deref()),
                    valid_for: &valid_for,
                },
            )?;
            if link {
                println!("{}", operator::handover_link(&settings.http, &token));
            } else {
                println!("{token}");
            }
        }
        Command::Operator { action } => {
            let store = Store::connect(&settings.database)
                .await
                .context("cannot reach the database")?;
            operator::run(&store, &action).await?;
        }
        Command::Practice { action } => {
            let app = App::build(settings).await?;
            let (id, done) = match action {
                PracticeAction::Withdraw { id, by, operator } => {
                    let by = by.withdrawn_by(operator.as_deref());
                    (id, practice::withdraw(&app, id, &by).await?)
                }
                PracticeAction::Deliver { id, operator } => {
                    (id, practice::deliver(&app, id, &operator).await?)
                }
            };
            match done {
                practice::Done::Moved(state) => println!("{id}\t{state}"),
                practice::Done::AlreadyDone(state) => println!("{id}\t{state} (already)"),
            }
        }
        Command::Dlq { action, operator } => {
            dlq::execute(settings, action, &dlq::operator_name(operator)).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn protocol(settings: Settings, action: ProtocolAction) -> anyhow::Result<()> {
    let store = Store::connect(&settings.database)
        .await
        .context("PostgreSQL")?;
    let register = fleet::keeper(&settings.protocol)?.register_id();
    match action {
        ProtocolAction::Show { year, number, json } => {
            let found = register::find(store.pool(), &register, year, number)
                .await?
                .with_context(|| {
                    format!(
                        "no registration {year}/{number} in register {}",
                        register.code
                    )
                })?;
            if json {
                let mut value = serde_json::to_value(&found)?;
                value["segnatura"] = serde_json::Value::String(found.segnatura.clone());
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print!("{}", folder::registration_text(&found));
            }
        }
        ProtocolAction::Annul {
            year,
            number,
            reason,
            measure,
            operator,
        } => {
            let request = register::AnnulRequest {
                year,
                number,
                operator: &operator,
                reason: &reason,
                measure: &measure,
            };
            let annulled =
                register::annul(store.pool(), &register, &request, chrono::Utc::now()).await?;
            print!("{}", folder::registration_text(&annulled));
        }
        ProtocolAction::DailyRegister { date } => {
            let objects = ObjectStore::new(&settings.object_store)?;
            let today = register::legal_date(chrono::Utc::now());
            let produced = daily::produce(store.pool(), &objects, &register, date, today).await?;
            println!("{}", serde_json::to_string_pretty(&produced)?);
        }
    }
    Ok(())
}
