//! Logging: one subscriber for the whole process, JSON when a machine reads it.
//!
//! Building and installing are separate so that tests can send logs to a sink of their own.
//! Fields that could carry personal data are masked at the source (`TaxCode`, `EmailAddress`
//! print masked); every line about a practice is inside a span carrying its `practice_id`.

use crate::config::{LogFormat, LogSettings};
use std::io::IsTerminal;
use tracing::Subscriber;
use tracing_subscriber::{EnvFilter, fmt::MakeWriter};

/// A subscriber writing to `writer` at the configured level (`RUST_LOG` wins when set).
pub fn subscriber<W>(settings: &LogSettings, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{},lapin=warn,sqlx=warn", settings.level)));
    let json = match settings.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    if json {
        Box::new(
            builder
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        )
    } else {
        Box::new(builder.compact().finish())
    }
}

/// Installs the subscriber for the process, logging to standard error (standard output is
/// for command results).
pub fn init(settings: &LogSettings) {
    // A second call (tests) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber(settings, std::io::stderr));
}
