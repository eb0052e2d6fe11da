//! The Italian emails, as minijinja templates compiled into the binary.
//!
//! Each notice has a plain-text template (`<name>.txt`, which also holds the subject in a
//! `subject` block) and an HTML one (`<name>.html`); both extend a layout with the
//! municipality's footer. The environment escapes everything in `.html` templates, so whatever a
//! citizen or a back office typed is shown, never interpreted; undefined variables are errors,
//! so a typo in a template fails its unit test instead of sending an email with a hole.

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior, Value, context};
use serde::Serialize;

/// Which email a step of the practice calls for; the name is stored with the notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    Receipt,
    Rejection,
    IntegrationRequest,
    /// Preavviso di rigetto (art. 10-bis L. 241/1990): the reasons, and ten days to answer.
    Preavviso,
    Outcome,
    Pickup,
    Denial,
    Withdrawal,
    /// Silenzio-assenso (art. 20 L. 241/1990): the term ran out, the application is granted,
    /// the attestation attached.
    SilentConsent,
}

impl Template {
    pub const ALL: [Template; 9] = [
        Template::Receipt,
        Template::Rejection,
        Template::IntegrationRequest,
        Template::Preavviso,
        Template::Outcome,
        Template::Pickup,
        Template::Denial,
        Template::Withdrawal,
        Template::SilentConsent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Template::Receipt => "receipt",
            Template::Rejection => "rejection",
            Template::IntegrationRequest => "integration_request",
            Template::Preavviso => "preavviso_rigetto",
            Template::Outcome => "outcome",
            Template::Pickup => "pickup",
            Template::Denial => "denial",
            Template::Withdrawal => "withdrawal",
            Template::SilentConsent => "silent_consent",
        }
    }

    fn sources(self) -> (&'static str, &'static str) {
        match self {
            Template::Receipt => (
                include_str!("../templates/receipt.txt"),
                include_str!("../templates/receipt.html"),
            ),
            Template::Rejection => (
                include_str!("../templates/rejection.txt"),
                include_str!("../templates/rejection.html"),
            ),
            Template::IntegrationRequest => (
                include_str!("../templates/integration_request.txt"),
                include_str!("../templates/integration_request.html"),
            ),
            Template::Preavviso => (
                include_str!("../templates/preavviso.txt"),
                include_str!("../templates/preavviso.html"),
            ),
            Template::Outcome => (
                include_str!("../templates/outcome.txt"),
                include_str!("../templates/outcome.html"),
            ),
            Template::Pickup => (
                include_str!("../templates/pickup.txt"),
                include_str!("../templates/pickup.html"),
            ),
            Template::Denial => (
                include_str!("../templates/denial.txt"),
                include_str!("../templates/denial.html"),
            ),
            Template::Withdrawal => (
                include_str!("../templates/withdrawal.txt"),
                include_str!("../templates/withdrawal.html"),
            ),
            Template::SilentConsent => (
                include_str!("../templates/silent_consent.txt"),
                include_str!("../templates/silent_consent.html"),
            ),
        }
    }
}

/// Who writes: the municipality's name and contacts, and the counter's timetable, as configured.
pub use sportello_shared::config::MunicipalitySettings as Municipality;

/// What every email says: who writes, to whom, about which practice.
#[derive(Debug, Clone, Serialize)]
pub struct Common {
    pub municipality: Municipality,
    /// The citizen's name as they gave it.
    pub citizen: String,
    pub practice: PracticeView,
    /// The incoming registration, once there is one.
    pub protocol: Option<ProtocolView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PracticeView {
    pub id: String,
    /// The catalog's Italian name of the practice type.
    pub title: String,
    pub desk: String,
    /// The "oggetto", in the citizen's own words.
    pub subject: String,
    /// For a citizen's integration: the practice it answers.
    pub integrates: Option<IntegratedView>,
}

/// The practice an integration answers, as the citizen knows it.
#[derive(Debug, Clone, Serialize)]
pub struct IntegratedView {
    pub id: String,
    /// `0000042/2026`, when it has its number (it always has, once it asked for more).
    pub protocol: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProtocolView {
    pub register: String,
    /// Seven digits or more, as the law writes it.
    pub number: String,
    pub year: i32,
    /// `dd/mm/yyyy`, Italian local date.
    pub date: String,
    /// `hh:mm`, Italian local time.
    pub time: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegisteredDocument {
    pub file_name: String,
    pub media_type: String,
    /// SHA-256, base64, as in the segnatura.
    pub impronta: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reason {
    pub message: String,
}

/// A result document of a completed practice, its size already written for people.
#[derive(Debug, Clone, Serialize)]
pub struct ResultDocument {
    pub file_name: String,
    pub size: String,
}

/// What is particular to each email.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Notice {
    Receipt {
        documents: Vec<RegisteredDocument>,
        /// The procedure's term, office and remedies (a first submission's receipt only).
        term: Option<Box<sportello_register::receipt::ReceiptFacts>>,
    },
    Rejection {
        reasons: Vec<Reason>,
    },
    IntegrationRequest {
        missing: Vec<String>,
        /// `dd/mm/yyyy`.
        deadline: Option<String>,
        message: Option<String>,
    },
    Preavviso {
        reasons: Vec<String>,
        /// `dd/mm/yyyy`: the last day for the citizen's observations.
        deadline: Option<String>,
        message: Option<String>,
    },
    Outcome {
        outcome: Option<String>,
        attached: Vec<ResultDocument>,
        to_collect: Vec<ResultDocument>,
    },
    Pickup {
        outcome: Option<String>,
    },
    Denial {
        reasons: Vec<String>,
    },
    Withdrawal {},
    SilentConsent {
        /// `dd/mm/yyyy`: the last day of the term.
        due_date: Option<String>,
        /// `dd/mm/yyyy`: the day from which the application is granted.
        formed_on: Option<String>,
        term_days: Option<u32>,
        attached: Vec<ResultDocument>,
        to_collect: Vec<ResultDocument>,
    },
}

impl Notice {
    pub fn template(&self) -> Template {
        match self {
            Notice::Receipt { .. } => Template::Receipt,
            Notice::Rejection { .. } => Template::Rejection,
            Notice::IntegrationRequest { .. } => Template::IntegrationRequest,
            Notice::Preavviso { .. } => Template::Preavviso,
            Notice::Outcome { .. } => Template::Outcome,
            Notice::Pickup { .. } => Template::Pickup,
            Notice::Denial { .. } => Template::Denial,
            Notice::Withdrawal {} => Template::Withdrawal,
            Notice::SilentConsent { .. } => Template::SilentConsent,
        }
    }
}

/// An email ready to be put in an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
#[error("template {template}: {source:#}")]
pub struct RenderError {
    template: String,
    #[source]
    source: minijinja::Error,
}

/// The compiled templates; build once, render many times from any task.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    pub fn new() -> Templates {
        let mut env = Environment::new();
        // Block tags on their own lines leave no blank lines behind in the plain text.
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("the default delimiters are valid");
        env.set_syntax(syntax);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let layouts = [
            ("layout.txt", include_str!("../templates/layout.txt")),
            ("layout.html", include_str!("../templates/layout.html")),
        ];
        for (name, source) in layouts {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name} does not compile: {e:#}"));
        }
        for template in Template::ALL {
            let (text, html) = template.sources();
            for (name, source) in [(text_name(template), text), (html_name(template), html)] {
                env.add_template_owned(name.clone(), source)
                    .unwrap_or_else(|e| panic!("template {name} does not compile: {e:#}"));
            }
        }
        Templates { env }
    }

    pub fn render(&self, common: &Common, notice: &Notice) -> Result<Rendered, RenderError> {
        let template = notice.template();
        let ctx = context! {
            ..Value::from(Serde(common)),
            ..Value::from(Serde(notice)),
        };
        let failed = |name: String| {
            move |source| RenderError {
                template: name,
                source,
            }
        };
        let text_name = text_name(template);
        let mut captured = self
            .env
            .get_template(&text_name)
            .and_then(|t| t.render_captured(ctx.clone()))
            .map_err(failed(text_name.clone()))?;
        let subject = captured
            .with_state_mut(|state| state.render_block("subject"))
            .map_err(failed(text_name.clone()))?;
        let html_name = html_name(template);
        let html = self
            .env
            .get_template(&html_name)
            .and_then(|t| t.render(ctx))
            .map_err(failed(html_name.clone()))?;
        Ok(Rendered {
            subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
            text: tidy(captured.output()),
            html,
        })
    }
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

fn text_name(template: Template) -> String {
    format!("{}.txt", template.as_str())
}

fn html_name(template: Template) -> String {
    format!("{}.html", template.as_str())
}

/// No leading blank lines, at most one blank line in a row, one final newline: optional
/// sections of a template must not leave holes in the plain text.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.trim_start_matches('\n').lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out.push('\n');
    out
}

/// A size as people read it: `850 KB`, `12,4 MB` (Italian decimal comma).
pub fn human_size(bytes: u64) -> String {
    const KB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KB {
        format!("{bytes} byte")
    } else if b < KB * KB {
        format!("{:.0} KB", b / KB)
    } else {
        format!("{:.1} MB", b / (KB * KB)).replace('.', ",")
    }
}

#[cfg(test)]
mod tests;
