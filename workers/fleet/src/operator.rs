//! `sportello operator add | disable`: the accounts operators sign in to the cruscotto with,
//! and `sportello token --link`: a citizen's hand-over link for the demo.
//!
//! Why in the command: creating an account is an act of whoever runs the service, not of a
//! page; the password is read from `$SPORTELLO_OPERATOR_PASSWORD` or standard input, never
//! from the command line, where `ps` and shell histories would show it.

use sportello_api::auth::OperatorRole;
use sportello_api::web::accounts;
use sportello_shared::config::HttpSettings;
use sportello_shared::store::Store;
use std::io::BufRead;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum OperatorAction {
    /// Creates the account, or resets it (password, name, roles; enabled and unlocked again).
    /// The password comes from $SPORTELLO_OPERATOR_PASSWORD or the first line of stdin.
    Add {
        /// The operator id (as in the practices' history: `operator:<id>`).
        id: String,
        /// The name shown in the cruscotto.
        #[arg(long)]
        name: String,
        /// counter, protocol_officer, operations (comma-separated).
        #[arg(long, default_value = "counter")]
        roles: String,
    },
    /// Disables the account and ends its sessions.
    Disable { id: String },
}

fn password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("SPORTELLO_OPERATOR_PASSWORD") {
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub async fn run(store: &Store, action: &OperatorAction) -> anyhow::Result<()> {
    match action {
        OperatorAction::Add { id, name, roles } => {
            let roles =
                OperatorRole::parse_list(roles).map_err(|e| anyhow::anyhow!("--roles: {e}"))?;
            accounts::add(store.pool(), id, name, &roles, &password()?).await?;
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            println!("operator {id}: account ready ({})", names.join(", "));
        }
        OperatorAction::Disable { id } => {
            accounts::disable(store.pool(), id).await?;
            println!("operator {id}: disabled, sessions ended");
        }
    }
    Ok(())
}

/// The address a hand-over token is exchanged at.
pub fn handover_link(http: &HttpSettings, token: &str) -> String {
    let base = if http.web.public_url.trim().is_empty() {
        format!("http://{}", http.listen)
    } else {
        http.web.public_url.trim_end_matches('/').to_owned()
    };
    format!("{base}/accesso/cittadino?token={token}")
}
