//! Connections to RabbitMQ and publishing with publisher confirms.
//!
//! Every publish waits for the broker's confirm and is `mandatory`: a message the broker could
//! not route (a missing binding) or not store is an error for the caller, never a silent `Ok`.

use crate::config::BrokerSettings;
use lapin::uri::AMQPUri;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties,
    options::{BasicPublishOptions, ConfirmSelectOptions},
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use secrecy::ExposeSecret;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("RabbitMQ unreachable within {0:?}")]
    Timeout(Duration),
    #[error("RabbitMQ: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("RabbitMQ refused the message (nack) for {exchange}/{routing_key}")]
    Nacked {
        exchange: String,
        routing_key: String,
    },
    #[error("RabbitMQ could not route the message for {exchange}/{routing_key}: no queue is bound")]
    Unroutable {
        exchange: String,
        routing_key: String,
    },
    /// No usable login: a configuration error, never worth waiting for.
    #[error("RabbitMQ login: {0}")]
    Login(String),
}

/// The URI to connect with: `settings.url` with the chosen party's user and password (see
/// [`crate::parties`]). `guest` is refused, whether named or implied by a URL without
/// credentials.
pub fn login_uri(settings: &BrokerSettings) -> Result<AMQPUri, BrokerError> {
    let mut uri: AMQPUri = settings
        .url()
        .parse()
        .map_err(|e| BrokerError::Login(format!("broker.url: {e}")))?;
    if let Some(party) = &settings.party {
        let login = settings.logins.get(party).ok_or_else(|| {
            BrokerError::Login(format!(
                "no password for the party `{party}`: set [broker.logins.{party}] password"
            ))
        })?;
        uri.authority.userinfo.username = crate::parties::user_name(&settings.namespace, party);
        uri.authority.userinfo.password = login.password.expose_secret().to_owned();
    }
    if uri.authority.userinfo.username == "guest" {
        return Err(BrokerError::Login(match &settings.party {
            Some(_) => "`guest` is not a party".to_owned(),
            None => {
                "no party chosen and broker.url names no user but guest, which Sportello never uses"
                    .to_owned()
            }
        }));
    }
    Ok(uri)
}

/// The user this process's connections log in as (the `user_id` its returns must carry).
pub fn login_user(settings: &BrokerSettings) -> Result<String, BrokerError> {
    Ok(login_uri(settings)?.authority.userinfo.username)
}

/// Opens a connection named after its role (visible in the management UI): to the URL's node,
/// or — when it does not answer — to the first of `broker.failover_hosts` that does.
pub async fn connect(settings: &BrokerSettings, name: &str) -> Result<Connection, BrokerError> {
    let timeout = Duration::from_secs(settings.connect_timeout_secs);
    let properties = ConnectionProperties::default()
        .with_connection_name(LongString::from(format!("sportello/{name}")));
    let mut failed = None;
    for uri in node_uris(login_uri(settings)?, &settings.failover_hosts)? {
        let node = format!("{}:{}", uri.authority.host, uri.authority.port);
        match tokio::time::timeout(timeout, Connection::connect_uri(uri, properties.clone())).await
        {
            Ok(Ok(connection)) => return Ok(connection),
            Ok(Err(err)) => failed = Some((node, BrokerError::from(err))),
            Err(_) => failed = Some((node, BrokerError::Timeout(timeout))),
        }
        if let Some((node, err)) = &failed
            && !settings.failover_hosts.is_empty()
        {
            tracing::warn!(%node, error = %err, "RabbitMQ node does not answer; trying the next");
        }
    }
    Err(failed
        .map(|(_, err)| err)
        .expect("the URL's own node was tried"))
}

/// `uri`, then `uri` on each `host:port` of the cluster's other nodes, in order.
pub fn node_uris(uri: AMQPUri, failover_hosts: &[String]) -> Result<Vec<AMQPUri>, BrokerError> {
    let mut all = Vec::with_capacity(failover_hosts.len() + 1);
    for entry in failover_hosts {
        let (host, port) = entry
            .trim()
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
            .filter(|(host, _)| !host.is_empty())
            .ok_or_else(|| {
                BrokerError::Login(format!("broker.failover_hosts: `{entry}` is not host:port"))
            })?;
        let mut node = uri.clone();
        node.authority.host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        node.authority.port = port;
        all.push(node);
    }
    all.insert(0, uri);
    Ok(all)
}

/// A message to publish: where it goes, what it carries.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub exchange: String,
    pub routing_key: String,
    pub body: Vec<u8>,
    pub headers: FieldTable,
    pub message_id: Option<String>,
    /// The broker must route it to a queue (else the publish fails as `Unroutable`): true for
    /// work, false for a broadcast nobody may be listening to (the `events` exchange, whose
    /// queues bind only the events they need).
    pub mandatory: bool,
}

impl Outgoing {
    /// A JSON message; `practice_id` travels as a header so that logs and operators can follow
    /// it without parsing the body.
    pub fn json<T: serde::Serialize>(
        exchange: &str,
        routing_key: &str,
        body: &T,
        practice_id: Option<uuid::Uuid>,
    ) -> Outgoing {
        let mut headers = FieldTable::default();
        if let Some(id) = practice_id {
            headers.insert(PRACTICE_ID_HEADER.into(), text(&id.to_string()));
        }
        Outgoing {
            exchange: exchange.to_owned(),
            routing_key: routing_key.to_owned(),
            body: serde_json::to_vec(body).expect("message types always serialise"),
            headers,
            message_id: practice_id.map(|id| id.to_string()),
            mandatory: true,
        }
    }

    pub fn with_header(mut self, key: &str, value: AMQPValue) -> Outgoing {
        self.headers.insert(key.into(), value);
        self
    }
}

/// The practice a message is about, when it is about one.
pub const PRACTICE_ID_HEADER: &str = "x-sportello-practice-id";

pub fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

/// A header value as text, whatever string or integer type the broker encoded it with.
pub fn header_text(headers: &FieldTable, key: &str) -> Option<String> {
    match headers.inner().get(key)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        other => header_number(other).map(|n| n.to_string()),
    }
}

/// A header value as a number, whatever integer type the broker encoded it with.
pub fn header_u64(headers: &FieldTable, key: &str) -> Option<u64> {
    header_number(headers.inner().get(key)?)
}

fn header_number(value: &AMQPValue) -> Option<u64> {
    match value {
        AMQPValue::ShortShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::LongUInt(n) => Some(u64::from(*n)),
        AMQPValue::ShortShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::ShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongLongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).parse().ok(),
        _ => None,
    }
}

/// A channel in confirm mode. Cheap to clone; concurrent publishes are confirmed one by one.
#[derive(Clone)]
pub struct Publisher {
    channel: Channel,
    /// Stamped as the `user_id` property of every message, which the broker refuses unless it
    /// is the connection's login: the consumer then knows who published.
    user_id: Option<String>,
}

impl Publisher {
    pub async fn open(connection: &Connection) -> Result<Publisher, BrokerError> {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Publisher {
            channel,
            user_id: None,
        })
    }

    /// Like [`Publisher::open`], every message carrying `user_id` (the connection's login, or
    /// the broker closes the channel with PRECONDITION_FAILED).
    pub async fn open_signed(
        connection: &Connection,
        user_id: &str,
    ) -> Result<Publisher, BrokerError> {
        let mut publisher = Self::open(connection).await?;
        publisher.user_id = Some(user_id.to_owned());
        Ok(publisher)
    }

    /// Publishes persistently and returns once the broker has confirmed it.
    pub async fn publish(&self, message: &Outgoing) -> Result<(), BrokerError> {
        let mut properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type(ShortString::from("application/json"))
            .with_headers(message.headers.clone())
            .with_timestamp(chrono::Utc::now().timestamp().max(0) as u64);
        if let Some(id) = &message.message_id {
            properties = properties.with_message_id(ShortString::from(id.as_str()));
        }
        if let Some(user) = &self.user_id {
            properties = properties.with_user_id(ShortString::from(user.as_str()));
        }
        let options = BasicPublishOptions {
            mandatory: message.mandatory,
            ..BasicPublishOptions::default()
        };
        let confirmation = self
            .channel
            .basic_publish(
                message.exchange.as_str().into(),
                message.routing_key.as_str().into(),
                options,
                &message.body,
                properties,
            )
            .await?
            .await?;
        match confirmation {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(_)) => Err(BrokerError::Unroutable {
                exchange: message.exchange.clone(),
                routing_key: message.routing_key.clone(),
            }),
            Confirmation::Nack(_) | Confirmation::NotRequested => Err(BrokerError::Nacked {
                exchange: message.exchange.clone(),
                routing_key: message.routing_key.clone(),
            }),
        }
    }

    pub fn channel(&self) -> &Channel {
        &self.channel
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_urls_node_comes_first_then_each_failover_host_with_the_same_login() {
        let uri: AMQPUri = "amqp://validation:pw@rabbit1:5672/%2f".parse().unwrap();
        let nodes = node_uris(uri, &["rabbit2:5682".to_owned(), "[::1]:5683".to_owned()]).unwrap();
        let at: Vec<(String, u16)> = nodes
            .iter()
            .map(|n| (n.authority.host.clone(), n.authority.port))
            .collect();
        assert_eq!(
            at,
            [
                ("rabbit1".to_owned(), 5672),
                ("rabbit2".to_owned(), 5682),
                ("::1".to_owned(), 5683)
            ]
        );
        assert!(
            nodes
                .iter()
                .all(|n| n.authority.userinfo.username == "validation")
        );
        assert!(nodes.iter().all(|n| n.vhost == "/"));
    }

    #[test]
    fn entries_that_are_not_host_and_port_are_refused_with_their_name() {
        let uri: AMQPUri = "amqp://u:p@rabbit1:5672/%2f".parse().unwrap();
        for bad in ["rabbit2", ":5682", "rabbit2:amqp"] {
            let error = node_uris(uri.clone(), &[bad.to_owned()]).unwrap_err();
            assert!(error.to_string().contains(bad), "{error}");
        }
    }
}
