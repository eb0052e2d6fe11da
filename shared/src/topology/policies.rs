//! The queues' arguments an operator may change while the fleet runs — a work queue's delivery
//! limit and dead-letter target, a retry tier's delay — as RabbitMQ policies. A queue argument
//! is fixed at declaration (declaring the queue again with another value fails), a policy applies
//! to the queue it matches as soon as it is set: edit `queues.toml`, run `sportello broker
//! policies`, and the running queues follow. Only the queue type stays an argument.
//!
//! Pure: what the policies are is unit-tested here; `broker_users` writes them.

use super::Topology;
use serde_json::{Value, json};

/// Above the default priority, so that a broad operator policy (say, one that caps lengths
/// across the virtual host) does not replace ours: RabbitMQ applies one policy per queue, the
/// highest priority's.
pub const PRIORITY: u32 = 10;

/// One policy: named after the only queue its pattern matches.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuePolicy {
    pub name: String,
    pub pattern: String,
    pub definition: Value,
}

impl QueuePolicy {
    fn for_queue(queue: &str, definition: Value) -> QueuePolicy {
        QueuePolicy {
            name: queue.to_owned(),
            pattern: format!("^{}$", regex_literal(queue)),
            definition,
        }
    }

    /// The body of `PUT /api/policies/{vhost}/{name}`.
    pub fn body(&self) -> Value {
        json!({
            "pattern": self.pattern,
            "definition": self.definition,
            "priority": PRIORITY,
            "apply-to": "queues",
        })
    }
}

impl Topology {
    /// A policy per work queue (delivery limit, dead-lettering to `errors` under the worker's
    /// name) and per retry tier (its delay, then back to the work queue).
    pub fn policies(&self) -> Vec<QueuePolicy> {
        let errors = &self.exchanges["errors"].name;
        let mut policies = Vec::new();
        for worker in self.workers.values() {
            policies.push(QueuePolicy::for_queue(
                &worker.queue,
                json!({
                    "delivery-limit": worker.delivery_limit,
                    "dead-letter-exchange": errors,
                    "dead-letter-routing-key": worker.worker,
                }),
            ));
            for tier in &worker.retry_tiers {
                // At-least-once dead-lettering so that a broker restart cannot drop a waiting
                // retry; RabbitMQ requires reject-publish overflow with it.
                policies.push(QueuePolicy::for_queue(
                    &tier.queue,
                    json!({
                        "message-ttl": u64::try_from(tier.delay.as_millis()).unwrap_or(u64::MAX),
                        "dead-letter-exchange": "",
                        "dead-letter-routing-key": worker.queue,
                        "dead-letter-strategy": "at-least-once",
                        "overflow": "reject-publish",
                    }),
                ));
            }
        }
        policies
    }
}

/// `name` as a regular expression that matches exactly it.
fn regex_literal(name: &str) -> String {
    let mut pattern = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::EMBEDDED;

    #[test]
    fn every_work_queue_and_retry_tier_has_its_own_policy() {
        let topology = Topology::parse(EMBEDDED).unwrap().namespaced("t9");
        let policies = topology.policies();
        for worker in topology.workers() {
            let work = policies
                .iter()
                .find(|p| p.name == worker.queue)
                .unwrap_or_else(|| panic!("a policy for {}", worker.queue));
            assert_eq!(work.definition["delivery-limit"], worker.delivery_limit);
            assert_eq!(
                work.definition["dead-letter-exchange"],
                "t9.sportello.errors"
            );
            assert_eq!(work.definition["dead-letter-routing-key"], worker.worker);
            for tier in &worker.retry_tiers {
                let retry = policies.iter().find(|p| p.name == tier.queue).unwrap();
                assert_eq!(
                    retry.definition["message-ttl"],
                    tier.delay.as_millis() as u64
                );
                assert_eq!(retry.definition["dead-letter-routing-key"], worker.queue);
            }
        }
        assert!(!policies.iter().any(|p| p.name.ends_with(".errors")));
    }

    #[test]
    fn a_pattern_is_its_queue_name_anchored_and_escaped() {
        let topology = Topology::parse(EMBEDDED).unwrap();
        let validation = topology.worker("validation").unwrap();
        let policy = topology
            .policies()
            .into_iter()
            .find(|p| p.name == validation.queue)
            .unwrap();
        assert_eq!(policy.pattern, r"^sportello\.validation$");
        assert_eq!(policy.body()["apply-to"], "queues");
    }
}
