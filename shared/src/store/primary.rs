//! Following the primary: with a standby beside it (streaming replication), the database the
//! fleet writes to is whichever server is read-write now. sqlx takes one host per URL and has
//! no `target_session_attrs`, so the store does it: the URL's own host first, then
//! `database.failover_hosts` in order, keeping the first that answers and is not in recovery;
//! a watcher checks that server every `database.failover_check_secs` and, when it stops
//! answering or becomes a standby, points the pool at the read-write one among the others
//! (connections already open to a dead server fail their check on acquire and are replaced).

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgPool};
use std::time::Duration;
use tracing::{info, warn};

/// The servers to try, in order: `base` itself, then `base` on each `host:port`.
pub fn candidates(
    base: &PgConnectOptions,
    failover_hosts: &[String],
) -> Result<Vec<PgConnectOptions>, String> {
    let mut all = vec![base.clone()];
    for entry in failover_hosts {
        let (host, port) = split_host_port(entry)?;
        all.push(base.clone().host(host).port(port));
    }
    Ok(all)
}

/// `host:port` (an IPv6 host in brackets), as `database.failover_hosts` lists them.
fn split_host_port(entry: &str) -> Result<(&str, u16), String> {
    let (host, port) = entry
        .trim()
        .rsplit_once(':')
        .ok_or_else(|| format!("database.failover_hosts: `{entry}` is not host:port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("database.failover_hosts: `{entry}` has no valid port"))?;
    if host.is_empty() {
        return Err(format!("database.failover_hosts: `{entry}` has no host"));
    }
    Ok((host, port))
}

/// `host:port` of `options`, for logs (never the credentials).
pub fn server_of(options: &PgConnectOptions) -> String {
    format!("{}:{}", options.get_host(), options.get_port())
}

/// Whether the server of `options` answers within `timeout` and takes writes.
pub async fn is_read_write(options: &PgConnectOptions, timeout: Duration) -> bool {
    let probe = async {
        let mut connection = options.connect().await.ok()?;
        let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(&mut connection)
            .await
            .ok()?;
        let _ = connection.close().await;
        Some(!in_recovery)
    };
    matches!(tokio::time::timeout(timeout, probe).await, Ok(Some(true)))
}

/// The first read-write server among `candidates`.
pub async fn read_write_among(
    candidates: &[PgConnectOptions],
    timeout: Duration,
) -> Option<PgConnectOptions> {
    for options in candidates {
        if is_read_write(options, timeout).await {
            return Some(options.clone());
        }
    }
    None
}

/// Keeps `pool` on a read-write server among `candidates` until the pool is closed.
pub async fn follow(
    pool: PgPool,
    candidates: Vec<PgConnectOptions>,
    mut current: PgConnectOptions,
    interval: Duration,
) {
    let timeout = interval.max(Duration::from_secs(2));
    loop {
        tokio::time::sleep(interval).await;
        if pool.is_closed() {
            return;
        }
        if is_read_write(&current, timeout).await {
            continue;
        }
        // The current one first is skipped: it has just failed.
        let others: Vec<PgConnectOptions> = candidates
            .iter()
            .filter(|c| server_of(c) != server_of(&current))
            .cloned()
            .collect();
        match read_write_among(&others, timeout).await {
            Some(next) => {
                warn!(from = %server_of(&current), to = %server_of(&next), "PostgreSQL: the read-write server moved; the pool follows");
                pool.set_connect_options(next.clone());
                current = next;
            }
            None => {
                info!(server = %server_of(&current), "PostgreSQL: no read-write server answers; will look again")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_comes_first_then_each_failover_host_in_order() {
        let base: PgConnectOptions = "postgres://rt:pw@db1:5432/sportello".parse().unwrap();
        let all = candidates(&base, &["db2:5442".to_owned(), "[::1]:5443".to_owned()]).unwrap();
        let servers: Vec<String> = all.iter().map(server_of).collect();
        assert_eq!(servers, ["db1:5432", "db2:5442", "::1:5443"]);
        assert_eq!(all[1].get_database(), Some("sportello"));
        assert_eq!(all[1].get_username(), "rt");
    }

    #[test]
    fn entries_that_are_not_host_and_port_are_refused_with_their_name() {
        let base: PgConnectOptions = "postgres://rt@db1/sportello".parse().unwrap();
        for bad in ["db2", "db2:", ":5432", "db2:port"] {
            let error = candidates(&base, &[bad.to_owned()]).unwrap_err();
            assert!(error.contains(bad), "{error}");
        }
    }
}
