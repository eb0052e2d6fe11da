//! The live timeline of a page on the API's own endpoint, `/practices/{id}/events`.
//!
//! Why: a browser's `EventSource` sends cookies but no `Authorization` header, and the live
//! endpoint, like the rest of the API, trusts tokens only. Rather than handing a token to page
//! scripts, this layer turns the request's session cookie into a short-lived token of a key
//! that exists only in this process (issuer `sportello-web`, never written anywhere) and lets
//! the endpoint check it as any other. The token lasts at most [`STREAM_TOKEN`], so a stream
//! ends soon after its session does; `EventSource` reconnects by itself with `Last-Event-ID`,
//! and the reconnection is let in only while the session lives.

use crate::ApiState;
use crate::auth::{Algorithm, Caller, Grants, Keys, OperatorRole, Signer, Subject};
use crate::web::session::{self, Found};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The issuer of the tokens this layer mints.
pub const ISSUER: &str = "sportello-web";
/// How long one stream's token lasts at most.
pub const STREAM_TOKEN: Duration = Duration::from_secs(300);

/// One key per audience, made on first use and kept for the life of the process.
fn signer(audience: &str) -> Signer {
    static SIGNERS: OnceLock<Mutex<HashMap<String, Signer>>> = OnceLock::new();
    let mut signers = SIGNERS
        .get_or_init(Default::default)
        .lock()
        .expect("the signers' lock is never poisoned");
    signers
        .entry(audience.to_owned())
        .or_insert_with(|| {
            Signer::generate(ISSUER, audience, Algorithm::EdDSA).expect("an Ed25519 key")
        })
        .clone()
}

/// `keys`, trusting this layer's tokens too (citizens and every operator role: it mints only
/// for live sessions, with the session's own caller).
pub fn trust(keys: Keys) -> Keys {
    if keys.grants(ISSUER).is_some() {
        tracing::warn!("an issuer is configured as `{ISSUER}`: pages cannot follow practices live");
        return keys;
    }
    let signer = signer(keys.audience());
    let grants = Grants {
        citizen: true,
        operator: OperatorRole::ALL.into_iter().collect(),
    };
    let fallback = keys.clone();
    keys.trust(
        ISSUER,
        Algorithm::EdDSA,
        &signer.public_key_pem(),
        grants,
        "web sessions",
    )
    .unwrap_or(fallback)
}

fn is_live_endpoint(request: &Request) -> bool {
    let path = request.uri().path();
    request.method() == Method::GET
        && path.starts_with("/practices/")
        && path.ends_with("/events")
        && !request.headers().contains_key(header::AUTHORIZATION)
        && !request
            .uri()
            .query()
            .is_some_and(|q| q.contains("access_token="))
}

/// The layer: adds `Authorization` to a cookie-bearing request of the live endpoint.
pub async fn events(State(state): State<ApiState>, mut request: Request, next: Next) -> Response {
    if is_live_endpoint(&request)
        && let Ok(Found::Live(user)) = session::find(&state, request.headers()).await
    {
        let left = (user.expires_at - chrono::Utc::now())
            .to_std()
            .unwrap_or_default();
        let ttl = left.min(STREAM_TOKEN);
        let signer = signer(state.keys().audience());
        let minted = match &user.caller {
            Caller::Citizen { tax_code } => {
                let tax_code = tax_code.as_str();
                signer.mint(&Subject::Citizen { tax_code }, ttl)
            }
            Caller::Operator { id, roles } => signer.mint(&Subject::Operator { id, roles }, ttl),
        };
        if let Ok(token) = minted
            && let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}"))
        {
            request.headers_mut().insert(header::AUTHORIZATION, value);
        }
    }
    next.run(request).await
}
