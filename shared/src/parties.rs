//! Who talks to the broker, under which user, allowed to do what.
//!
//! Every party has its own RabbitMQ user, so that the broker itself enforces what each may do
//! and the validated `user_id` of a message says who published it:
//! - each worker kind (`intake`, …, `notification`, from `queues.toml`) reads its own queue and
//!   writes the exchanges its outputs go to, `errors`, and the default exchange (its retry tiers);
//! - `portal` and `counter` only write the `intake` exchange;
//! - each back office (its `login` in `queues.toml`) reads its own queue and writes `returns`;
//! - `api` (the HTTP service) writes `intake`, `events` and `backoffice` (the cruscotto's and
//!   the citizen's withdrawals and hand-overs announce themselves and tell the back office),
//!   and, for replays, the default exchange; reads the error queues and `events`, through a
//!   server-named queue of its own (`amq.gen-…`);
//! - `operations` (`topology apply`, `dlq`, `practice`, the fleet's start-up declare) may do
//!   everything, but only on the topology's own names.
//!
//! Names are the topology's, so with a namespace every regex covers that namespace's names only,
//! and user names are namespaced too ([`user_name`]): test runs sharing a broker cannot touch
//! each other. `guest` is never a party.
//!
//! Pure: the permissions are unit-tested; `broker_users` writes them to the broker.

use crate::topology::Topology;

/// The parties that are neither a worker kind nor a back office.
pub const SERVICE_PARTIES: &[&str] = &["portal", "counter", "api", "operations"];
/// The party of `topology apply`, `dlq`, `practice` and the fleet's own start-up declare.
pub const OPERATIONS: &str = "operations";

/// One user's permissions in the virtual host: three regexes, as RabbitMQ takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    pub configure: String,
    pub write: String,
    pub read: String,
}

/// A party name must be usable as a configuration key and an environment variable part.
pub fn check_party_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name == "guest"
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "`{name}` is not a party name (lowercase letters, digits, `_`, `-`; not `guest`)"
        ));
    }
    Ok(())
}

/// The RabbitMQ user of `party`: the party itself, prefixed with the namespace when there is one.
pub fn user_name(namespace: &str, party: &str) -> String {
    if namespace.is_empty() {
        party.to_owned()
    } else {
        format!("{namespace}.{party}")
    }
}

/// Every party of `topology`: worker kinds, service parties, back offices.
pub fn all(topology: &Topology) -> Vec<String> {
    let mut parties: Vec<String> = topology.workers().map(|w| w.worker.clone()).collect();
    parties.extend(SERVICE_PARTIES.iter().map(|p| (*p).to_owned()));
    parties.extend(
        topology
            .back_offices()
            .filter_map(|(id, _)| topology.back_office_login(id))
            .map(str::to_owned),
    );
    parties
}

/// The back office that published a return, from the message's `user_id` property (which the
/// broker checked against the publisher's login) and nothing else.
pub fn office_of_user<'t>(
    topology: &'t Topology,
    namespace: &str,
    user_id: Option<&str>,
) -> Result<&'t str, String> {
    let user = user_id.ok_or_else(|| {
        "the return carries no user_id property: a back office's return must be published with \
         its login as user_id"
            .to_owned()
    })?;
    let party = if namespace.is_empty() {
        Some(user)
    } else {
        user.strip_prefix(namespace)
            .and_then(|rest| rest.strip_prefix('.'))
    };
    party
        .and_then(|party| topology.office_of_login(party))
        .ok_or_else(|| format!("user_id `{user}` is not a back office's login"))
}

/// What `party` may do, or `None` for a party the topology does not know.
pub fn permissions(topology: &Topology, party: &str) -> Option<Permissions> {
    let exchange = |logical: &str| topology.exchange(logical).map(|e| e.name.clone()).ok();
    let errors = exchange("errors")?;
    if let Ok(worker) = topology.worker(party) {
        let mut write = worker.publishes.clone();
        write.push(errors);
        write.push(DEFAULT_EXCHANGE.to_owned());
        return Some(Permissions {
            configure: NOTHING.to_owned(),
            write: exactly(&write),
            read: exactly(std::slice::from_ref(&worker.queue)),
        });
    }
    if let Some((_, queue)) = topology
        .back_offices()
        .find(|(id, _)| topology.back_office_login(id) == Some(party))
    {
        return Some(Permissions {
            configure: NOTHING.to_owned(),
            write: exactly(&[exchange("returns")?]),
            read: exactly(&[queue.to_owned()]),
        });
    }
    match party {
        "portal" | "counter" => Some(Permissions {
            configure: NOTHING.to_owned(),
            write: exactly(&[exchange("intake")?]),
            read: NOTHING.to_owned(),
        }),
        "api" => {
            let error_queues: Vec<String> =
                topology.workers().map(|w| w.error_queue.clone()).collect();
            let mut read = vec![exchange("events")?];
            read.extend(error_queues);
            Some(Permissions {
                configure: SERVER_NAMED.to_owned(),
                write: format!(
                    "{}|{SERVER_NAMED}",
                    exactly(&[
                        exchange("intake")?,
                        exchange("events")?,
                        exchange("backoffice")?,
                        DEFAULT_EXCHANGE.to_owned()
                    ])
                ),
                read: format!("{}|{SERVER_NAMED}", exactly(&read)),
            })
        }
        OPERATIONS => {
            let mut names = topology.exchange_names();
            names.extend(topology.queue_names());
            let mut write = names.clone();
            write.push(DEFAULT_EXCHANGE.to_owned());
            Some(Permissions {
                configure: format!("{}|{SERVER_NAMED}", exactly(&names)),
                write: format!("{}|{SERVER_NAMED}", exactly(&write)),
                read: format!("{}|{SERVER_NAMED}", exactly(&names)),
            })
        }
        _ => None,
    }
}

/// The name RabbitMQ checks permissions against for the default exchange.
const DEFAULT_EXCHANGE: &str = "amq.default";
/// Matches no resource name.
const NOTHING: &str = "^$";
/// Server-named queues (`amq.gen-…`), as the live events declare.
const SERVER_NAMED: &str = "^amq\\.gen-.*$";

/// A regex matching exactly these names and no other (RabbitMQ's are unanchored otherwise).
fn exactly(names: &[String]) -> String {
    if names.is_empty() {
        return NOTHING.to_owned();
    }
    let alternatives: Vec<String> = names.iter().map(|n| escape(n)).collect();
    format!("^({})$", alternatives.join("|"))
}

fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len() * 2);
    for c in name.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        Topology::load("").unwrap().namespaced("t1")
    }

    /// Whether RabbitMQ's regex would let `name` through, for the shapes built here: an
    /// anchored alternation of escaped names, optionally `|^amq\.gen-.*$`.
    fn allows(regex: &str, name: &str) -> bool {
        regex.split('|').any(|part| {
            let part = part
                .trim_start_matches("^(")
                .trim_start_matches('^')
                .trim_end_matches(")$")
                .trim_end_matches('$');
            match part.strip_suffix(".*") {
                Some(prefix) => name.starts_with(&prefix.replace('\\', "")),
                None => !part.is_empty() && part.replace('\\', "") == name,
            }
        })
    }

    #[test]
    fn a_back_office_reads_its_queue_and_writes_returns_only() {
        let t = topology();
        let p = permissions(&t, "bo-anagrafe").unwrap();
        assert_eq!(p.configure, "^$");
        assert_eq!(p.write, "^(t1\\.sportello\\.returns)$");
        assert_eq!(p.read, "^(t1\\.sportello\\.bo\\.anagrafe)$");
        assert!(!allows(&p.read, "t1.sportello.bo.tributi"));
        assert!(
            !allows(&p.write, "amq.default"),
            "no way around the returns exchange"
        );
    }

    #[test]
    fn portal_and_counter_write_intake_only() {
        let t = topology();
        for party in ["portal", "counter"] {
            let p = permissions(&t, party).unwrap();
            assert_eq!(p.write, "^(t1\\.sportello\\.intake)$");
            assert_eq!((p.configure.as_str(), p.read.as_str()), ("^$", "^$"));
        }
    }

    #[test]
    fn a_worker_reads_its_queue_and_writes_its_outputs_errors_and_retries() {
        let t = topology();
        let p = permissions(&t, "validation").unwrap();
        assert!(allows(&p.read, "t1.sportello.validation"));
        assert!(!allows(&p.read, "t1.sportello.intake"));
        for name in [
            "t1.sportello.practice",
            "t1.sportello.events",
            "t1.sportello.errors",
            "amq.default",
        ] {
            assert!(allows(&p.write, name), "{name}");
        }
        assert!(!allows(&p.write, "t1.sportello.returns"));
        assert!(!allows(&p.write, "t1.sportello.backoffice"));
        let dispatch = permissions(&t, "dispatch").unwrap();
        assert!(allows(&dispatch.write, "t1.sportello.backoffice"));
    }

    #[test]
    fn operations_stay_inside_their_namespace() {
        let t = topology();
        let p = permissions(&t, OPERATIONS).unwrap();
        assert!(allows(&p.configure, "t1.sportello.intake.retry.5s"));
        assert!(!allows(&p.configure, "t2.sportello.intake"));
        assert!(!allows(&p.configure, "sportello.intake"));
    }

    #[test]
    fn every_party_has_permissions_and_a_distinct_user() {
        let t = topology();
        let parties = all(&t);
        assert_eq!(parties.len(), 7 + SERVICE_PARTIES.len() + 16);
        for party in &parties {
            check_party_name(party).unwrap();
            assert!(permissions(&t, party).is_some(), "{party}");
        }
        let mut users: Vec<String> = parties.iter().map(|p| user_name("t1", p)).collect();
        users.sort();
        users.dedup();
        assert_eq!(users.len(), parties.len());
        assert!(permissions(&t, "guest").is_none());
    }

    #[test]
    fn only_a_back_office_login_names_an_office() {
        let t = topology();
        assert_eq!(
            office_of_user(&t, "t1", Some("t1.bo-anagrafe")),
            Ok("bo.anagrafe")
        );
        assert!(
            office_of_user(&t, "t1", None)
                .unwrap_err()
                .contains("no user_id")
        );
        for forged in [
            "bo-anagrafe",
            "t2.bo-anagrafe",
            "t1.intake",
            "t1.bo.anagrafe",
        ] {
            let err = office_of_user(&t, "t1", Some(forged)).unwrap_err();
            assert!(err.contains("not a back office's login"), "{forged}: {err}");
        }
        let plain = Topology::load("").unwrap();
        assert_eq!(
            office_of_user(&plain, "", Some("bo-tributi")),
            Ok("bo.tributi")
        );
    }
}
