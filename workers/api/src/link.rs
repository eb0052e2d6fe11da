//! One broker connection for the HTTP service, opened when first needed and reopened when
//! it breaks.
//!
//! Requests must not each pay for a connection (a TLS and AMQP handshake), and the service
//! must survive a broker restart without a restart of its own: whoever finds the connection
//! gone opens a new one. The mutex is held only while checking or opening the connection,
//! never while publishing.

use lapin::{Channel, Connection};
use sportello_shared::broker::{self, BrokerError, Outgoing, Publisher};
use sportello_shared::config::BrokerSettings;
use tokio::sync::{Mutex, MutexGuard};

pub struct BrokerLink {
    settings: BrokerSettings,
    name: &'static str,
    current: Mutex<Option<Open>>,
}

struct Open {
    connection: Connection,
    publisher: Publisher,
}

impl Open {
    fn usable(&self) -> bool {
        self.connection.status().connected() && self.publisher.channel().status().connected()
    }
}

impl BrokerLink {
    pub fn new(settings: BrokerSettings, name: &'static str) -> BrokerLink {
        BrokerLink {
            settings,
            name,
            current: Mutex::new(None),
        }
    }

    /// The guard over a connection that is open, opening one if needed.
    async fn open(&self) -> Result<MutexGuard<'_, Option<Open>>, BrokerError> {
        let mut current = self.current.lock().await;
        if !current.as_ref().is_some_and(Open::usable) {
            if let Some(old) = current.take() {
                let _ = old.connection.close(200, "reconnecting".into()).await;
            }
            let connection = broker::connect(&self.settings, self.name).await?;
            // Signed with the API's login: a replay from the error queue then carries the
            // vouched sender over (see `worker::SENDER_HEADER`).
            let publisher =
                Publisher::open_signed(&connection, &broker::login_user(&self.settings)?).await?;
            *current = Some(Open {
                connection,
                publisher,
            });
        }
        Ok(current)
    }

    /// A confirming publisher on the live connection.
    pub async fn publisher(&self) -> Result<Publisher, BrokerError> {
        let open = self.open().await?;
        Ok(open.as_ref().expect("open").publisher.clone())
    }

    /// A fresh channel on the live connection; the caller closes it.
    pub async fn channel(&self) -> Result<Channel, BrokerError> {
        let open = self.open().await?;
        Ok(open
            .as_ref()
            .expect("open")
            .connection
            .create_channel()
            .await?)
    }

    /// Publishes with confirm; a connection that broke since the last use is reopened once.
    pub async fn publish(&self, message: &Outgoing) -> Result<(), BrokerError> {
        let publisher = self.publisher().await?;
        match publisher.publish(message).await {
            Err(BrokerError::Amqp(_)) => self.publisher().await?.publish(message).await,
            other => other,
        }
    }

    pub async fn close(&self) {
        if let Some(open) = self.current.lock().await.take() {
            let _ = open.connection.close(200, "stopping".into()).await;
        }
    }
}
