//! The RabbitMQ topology, as `queues.toml` declares it.
//!
//! Parsed once at start and checked as a whole, so that a typo stops the process with the name
//! of the key instead of leaving a queue unbound. [`Topology::apply`] declares everything
//! idempotently (declaring an existing queue with the same arguments is a no-op for RabbitMQ).

use lapin::{
    Channel, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The workers of the pipeline, in the order a practice meets them, notification last (it
/// follows every stage); `queues.toml` has a `[workers.<name>]` for each.
pub const WORKERS: &[&str] = &[
    "intake",
    "validation",
    "protocol",
    "storage",
    "dispatch",
    "returns",
    "notification",
];

mod policies;
pub use policies::QueuePolicy;

const EMBEDDED: &str = include_str!("../../queues.toml");

#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("queues.toml: {0}")]
    Syntax(String),
    #[error("queues.toml: `{key}`: {problem}")]
    Key { key: String, problem: String },
    #[error("queues.toml: cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("declaring the topology on the broker: {0}")]
    Broker(#[from] lapin::Error),
}

fn key_error(key: impl Into<String>, problem: impl Into<String>) -> TopologyError {
    TopologyError::Key {
        key: key.into(),
        problem: problem.into(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopology {
    exchanges: BTreeMap<String, RawExchange>,
    defaults: RawDefaults,
    workers: BTreeMap<String, RawWorker>,
    back_offices: BTreeMap<String, RawBackOffice>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExchange {
    name: String,
    kind: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    delivery_limit: u32,
    retry_delays: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorker {
    queue: String,
    publishes: Vec<String>,
    bindings: Vec<RawBinding>,
    prefetch: u16,
    concurrency: usize,
    delivery_limit: Option<u32>,
    retry_delays: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBinding {
    exchange: String,
    routing_key: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackOffice {
    queue: String,
    login: String,
}

/// An exchange as the broker knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub name: String,
    pub kind: ExchangeKind,
}

/// One retry tier: a queue that holds a message for `delay`, then sends it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryTier {
    pub queue: String,
    pub delay: Duration,
}

/// Everything the plumbing needs to run one worker.
#[derive(Debug, Clone)]
pub struct WorkerQueues {
    pub worker: String,
    pub queue: String,
    /// The broker names of the exchanges its outputs go to (besides `errors`): what its
    /// broker party may write.
    pub publishes: Vec<String>,
    pub bindings: Vec<(Exchange, String)>,
    pub prefetch: u16,
    pub concurrency: usize,
    pub delivery_limit: u32,
    pub retry_tiers: Vec<RetryTier>,
    pub error_queue: String,
}

#[derive(Debug, Clone)]
pub struct Topology {
    exchanges: BTreeMap<String, Exchange>,
    workers: BTreeMap<String, WorkerQueues>,
    back_offices: BTreeMap<String, String>,
    /// Each back office's broker party (`login`), by office id.
    office_logins: BTreeMap<String, String>,
}

impl Topology {
    /// The `queues.toml` compiled into the binary, or the file at `path` when it is not empty.
    pub fn load(path: &str) -> Result<Topology, TopologyError> {
        if path.is_empty() {
            return Self::parse(EMBEDDED);
        }
        let text = std::fs::read_to_string(path).map_err(|source| TopologyError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Topology, TopologyError> {
        let raw: RawTopology =
            toml::from_str(text).map_err(|e| TopologyError::Syntax(one_line(text, &e)))?;
        let mut exchanges = BTreeMap::new();
        for (logical, exchange) in &raw.exchanges {
            let kind = match exchange.kind.as_str() {
                "direct" => ExchangeKind::Direct,
                "topic" => ExchangeKind::Topic,
                "fanout" => ExchangeKind::Fanout,
                "headers" => ExchangeKind::Headers,
                other => {
                    return Err(key_error(
                        format!("exchanges.{logical}.kind"),
                        format!("unknown exchange kind `{other}` (direct, topic, fanout, headers)"),
                    ));
                }
            };
            require_name(&format!("exchanges.{logical}.name"), &exchange.name)?;
            exchanges.insert(
                logical.clone(),
                Exchange {
                    name: exchange.name.clone(),
                    kind,
                },
            );
        }
        for needed in [
            "errors",
            "practice",
            "events",
            "backoffice",
            "returns",
            "intake",
        ] {
            if !exchanges.contains_key(needed) {
                return Err(key_error(format!("exchanges.{needed}"), "missing"));
            }
        }
        let default_delays = parse_delays("defaults.retry_delays", &raw.defaults.retry_delays)?;
        let mut workers = BTreeMap::new();
        for (name, worker) in raw.workers {
            let prefix = format!("workers.{name}");
            require_name(&format!("{prefix}.queue"), &worker.queue)?;
            if worker.prefetch == 0 {
                return Err(key_error(
                    format!("{prefix}.prefetch"),
                    "must be at least 1",
                ));
            }
            if worker.concurrency == 0 {
                return Err(key_error(
                    format!("{prefix}.concurrency"),
                    "must be at least 1",
                ));
            }
            let delivery_limit = worker.delivery_limit.unwrap_or(raw.defaults.delivery_limit);
            if delivery_limit == 0 {
                return Err(key_error(
                    format!("{prefix}.delivery_limit"),
                    "must be at least 1",
                ));
            }
            let delays = match &worker.retry_delays {
                Some(delays) => parse_delays(&format!("{prefix}.retry_delays"), delays)?,
                None => default_delays.clone(),
            };
            let mut bindings = Vec::new();
            for (i, binding) in worker.bindings.iter().enumerate() {
                let exchange = exchanges.get(&binding.exchange).ok_or_else(|| {
                    key_error(
                        format!("{prefix}.bindings[{i}].exchange"),
                        format!("no exchange `{}` under [exchanges]", binding.exchange),
                    )
                })?;
                bindings.push((exchange.clone(), binding.routing_key.clone()));
            }
            let mut publishes = Vec::new();
            for (i, logical) in worker.publishes.iter().enumerate() {
                let exchange = exchanges.get(logical).ok_or_else(|| {
                    key_error(
                        format!("{prefix}.publishes[{i}]"),
                        format!("no exchange `{logical}` under [exchanges]"),
                    )
                })?;
                publishes.push(exchange.name.clone());
            }
            if bindings.is_empty() {
                return Err(key_error(
                    format!("{prefix}.bindings"),
                    "a worker needs at least one binding",
                ));
            }
            workers.insert(
                name.clone(),
                WorkerQueues {
                    retry_tiers: delays
                        .into_iter()
                        .map(|(label, delay)| RetryTier {
                            queue: format!("{}.retry.{label}", worker.queue),
                            delay,
                        })
                        .collect(),
                    error_queue: format!("{}.errors", worker.queue),
                    worker: name,
                    queue: worker.queue,
                    publishes,
                    bindings,
                    prefetch: worker.prefetch,
                    concurrency: worker.concurrency,
                    delivery_limit,
                },
            );
        }
        let mut back_offices = BTreeMap::new();
        let mut office_logins: BTreeMap<String, String> = BTreeMap::new();
        for (id, office) in raw.back_offices {
            require_name(&format!("back_offices.\"{id}\".queue"), &office.queue)?;
            let key = format!("back_offices.\"{id}\".login");
            crate::parties::check_party_name(&office.login).map_err(|p| key_error(&key, p))?;
            if workers.contains_key(&office.login)
                || crate::parties::SERVICE_PARTIES.contains(&office.login.as_str())
                || office_logins.values().any(|l| *l == office.login)
            {
                return Err(key_error(
                    key,
                    format!("`{}` is already another party's login", office.login),
                ));
            }
            office_logins.insert(id.clone(), office.login);
            back_offices.insert(id, office.queue);
        }
        Ok(Topology {
            exchanges,
            workers,
            back_offices,
            office_logins,
        })
    }

    /// Every exchange and queue name prefixed with `namespace.` (nothing when it is empty), so
    /// that several fleets — a test run each, say — share one broker without sharing messages.
    pub fn namespaced(mut self, namespace: &str) -> Topology {
        if namespace.is_empty() {
            return self;
        }
        let prefix = |name: &mut String| *name = format!("{namespace}.{name}");
        for exchange in self.exchanges.values_mut() {
            prefix(&mut exchange.name);
        }
        for worker in self.workers.values_mut() {
            prefix(&mut worker.queue);
            prefix(&mut worker.error_queue);
            for tier in &mut worker.retry_tiers {
                prefix(&mut tier.queue);
            }
            for (exchange, _) in &mut worker.bindings {
                prefix(&mut exchange.name);
            }
            for exchange in &mut worker.publishes {
                prefix(exchange);
            }
        }
        for queue in self.back_offices.values_mut() {
            prefix(queue);
        }
        self
    }

    /// Every queue name this topology declares (work, retry, error and back-office queues).
    pub fn queue_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for worker in self.workers.values() {
            names.push(worker.queue.clone());
            names.push(worker.error_queue.clone());
            names.extend(worker.retry_tiers.iter().map(|t| t.queue.clone()));
        }
        names.extend(self.back_offices.values().cloned());
        names
    }

    /// Every exchange name this topology declares.
    pub fn exchange_names(&self) -> Vec<String> {
        self.exchanges.values().map(|e| e.name.clone()).collect()
    }

    /// The worker's queues, or an error naming the missing `[workers.<name>]` table.
    pub fn worker(&self, name: &str) -> Result<&WorkerQueues, TopologyError> {
        self.workers
            .get(name)
            .ok_or_else(|| key_error(format!("workers.{name}"), "missing"))
    }

    pub fn workers(&self) -> impl Iterator<Item = &WorkerQueues> {
        self.workers.values()
    }

    /// The broker name of a logical exchange (`practice`, `events`, …).
    pub fn exchange(&self, logical: &str) -> Result<&Exchange, TopologyError> {
        self.exchanges
            .get(logical)
            .ok_or_else(|| key_error(format!("exchanges.{logical}"), "missing"))
    }

    /// The queue of a back office, by its catalog id.
    pub fn back_office_queue(&self, id: &str) -> Option<&str> {
        self.back_offices.get(id).map(String::as_str)
    }

    /// The broker party a back office logs in as.
    pub fn back_office_login(&self, id: &str) -> Option<&str> {
        self.office_logins.get(id).map(String::as_str)
    }

    /// The back office whose party is `login`: the only way a login names an office.
    pub fn office_of_login(&self, login: &str) -> Option<&str> {
        self.office_logins
            .iter()
            .find(|(_, l)| l.as_str() == login)
            .map(|(id, _)| id.as_str())
    }

    pub fn back_offices(&self) -> impl Iterator<Item = (&str, &str)> {
        self.back_offices
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Declares every exchange, queue, retry tier, error queue and binding; their limits and
    /// delays are the policies of [`Topology::policies`], which the broker administrator sets.
    pub async fn apply(&self, channel: &Channel) -> Result<(), TopologyError> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        for exchange in self.exchanges.values() {
            channel
                .exchange_declare(
                    exchange.name.as_str().into(),
                    exchange.kind.clone(),
                    durable,
                    FieldTable::default(),
                )
                .await?;
        }
        // Delivery limits, dead-lettering and retry delays are policies (`policies`), so that
        // they can change while the queues run: a queue carries only its type.
        let errors = &self.exchanges["errors"].name;
        for worker in self.workers.values() {
            declare_queue(channel, &worker.error_queue, quorum()).await?;
            bind(channel, &worker.error_queue, errors, &worker.worker).await?;
            declare_queue(channel, &worker.queue, quorum()).await?;
            for (exchange, routing_key) in &worker.bindings {
                bind(channel, &worker.queue, &exchange.name, routing_key).await?;
            }
            for tier in &worker.retry_tiers {
                declare_queue(channel, &tier.queue, quorum()).await?;
            }
        }
        let backoffice = &self.exchanges["backoffice"].name;
        for (id, queue) in &self.back_offices {
            declare_queue(channel, queue, quorum()).await?;
            bind(channel, queue, backoffice, id).await?;
        }
        Ok(())
    }
}

/// A TOML error on one line, with the line number and the line itself (the table header for a
/// missing key), so that a start-up failure reads as one line in a log.
fn one_line(text: &str, err: &toml::de::Error) -> String {
    let message = err.message().trim().replace('\n', " ");
    match err.span() {
        Some(span) => {
            let line_no = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
            format!("line {line_no} (`{line}`): {message}")
        }
        None => message,
    }
}

fn require_name(key: &str, value: &str) -> Result<(), TopologyError> {
    if value.trim().is_empty() {
        return Err(key_error(key, "must not be empty"));
    }
    Ok(())
}

fn parse_delays(key: &str, delays: &[String]) -> Result<Vec<(String, Duration)>, TopologyError> {
    if delays.is_empty() {
        return Err(key_error(key, "at least one retry delay is needed"));
    }
    delays
        .iter()
        .enumerate()
        .map(|(i, text)| {
            crate::timing::parse_duration(text)
                .map(|delay| (text.clone(), delay))
                .ok_or_else(|| {
                    key_error(
                        format!("{key}[{i}]"),
                        format!("`{text}` is not a delay like 5s, 2m or 1h"),
                    )
                })
        })
        .collect()
}

fn string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

fn quorum() -> FieldTable {
    let mut table = FieldTable::default();
    table.insert(ShortString::from("x-queue-type"), string("quorum"));
    table
}

async fn declare_queue(
    channel: &Channel,
    name: &str,
    args: FieldTable,
) -> Result<(), lapin::Error> {
    let options = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(name.into(), options, args)
        .await
        .map(|_| ())
}

async fn bind(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    key: &str,
) -> Result<(), lapin::Error> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_topology_is_complete() {
        let topology = Topology::parse(EMBEDDED).unwrap();
        for worker in WORKERS {
            let queues = topology.worker(worker).unwrap();
            assert!(queues.delivery_limit > 0);
            assert!(!queues.retry_tiers.is_empty());
            assert_eq!(queues.error_queue, format!("{}.errors", queues.queue));
        }
        let validation = topology.worker("validation").unwrap();
        assert_eq!(
            validation.retry_tiers[0].queue,
            "sportello.validation.retry.5s"
        );
        assert_eq!(validation.retry_tiers[0].delay, Duration::from_secs(5));
    }

    #[test]
    fn a_namespace_prefixes_every_name_but_not_routing_keys() {
        let topology = Topology::parse(EMBEDDED).unwrap().namespaced("t1");
        let validation = topology.worker("validation").unwrap();
        assert_eq!(validation.queue, "t1.sportello.validation");
        assert_eq!(validation.error_queue, "t1.sportello.validation.errors");
        assert_eq!(validation.bindings[0].0.name, "t1.sportello.practice");
        assert_eq!(validation.bindings[0].1, "validate");
        assert!(topology.queue_names().iter().all(|q| q.starts_with("t1.")));
    }

    #[test]
    fn a_missing_key_is_named() {
        let broken = EMBEDDED.replacen("prefetch = 32\n", "", 1);
        let err = Topology::parse(&broken).unwrap_err().to_string();
        assert!(err.contains("missing field `prefetch`"), "{err}");
        assert!(
            err.contains("[workers.intake]"),
            "the table is named: {err}"
        );
        assert!(!err.contains('\n'), "one line: {err}");
    }

    #[test]
    fn an_unknown_exchange_in_a_binding_is_named() {
        let broken = EMBEDDED.replacen(
            "{ exchange = \"practice\", routing_key = \"validate\" }",
            "{ exchange = \"pratica\", routing_key = \"validate\" }",
            1,
        );
        let err = Topology::parse(&broken).unwrap_err().to_string();
        assert!(
            err.contains("workers.validation.bindings[0].exchange"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_delay_is_named() {
        let broken = EMBEDDED.replacen("\"30s\"", "\"30 seconds\"", 1);
        let err = Topology::parse(&broken).unwrap_err().to_string();
        assert!(err.contains("defaults.retry_delays[1]"), "{err}");
    }
}
