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
use sportello_shared::config::MunicipalitySettings;

/// Which email a step of the practice calls for; the name is stored with the notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    Receipt,
    Rejection,
    IntegrationRequest,
    Outcome,
    Pickup,
    Denial,
    Withdrawal,
}

impl Template {
    pub const ALL: [Template; 7] = [
        Template::Receipt,
        Template::Rejection,
        Template::IntegrationRequest,
        Template::Outcome,
        Template::Pickup,
        Template::Denial,
        Template::Withdrawal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Template::Receipt => "receipt",
            Template::Rejection => "rejection",
            Template::IntegrationRequest => "integration_request",
            Template::Outcome => "outcome",
            Template::Pickup => "pickup",
            Template::Denial => "denial",
            Template::Withdrawal => "withdrawal",
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
        }
    }
}

/// Who writes: the municipality's name and contacts, and the counter's timetable.
#[derive(Debug, Clone, Serialize)]
pub struct Municipality {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub website: String,
    pub counter_address: String,
    pub opening_hours: Vec<String>,
}

impl From<&MunicipalitySettings> for Municipality {
    fn from(settings: &MunicipalitySettings) -> Municipality {
        Municipality {
            name: settings.name.clone(),
            email: settings.email.clone(),
            phone: settings.phone.clone(),
            website: settings.website.clone(),
            counter_address: settings.counter_address.clone(),
            opening_hours: settings.opening_hours.clone(),
        }
    }
}

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
}

impl Notice {
    pub fn template(&self) -> Template {
        match self {
            Notice::Receipt { .. } => Template::Receipt,
            Notice::Rejection { .. } => Template::Rejection,
            Notice::IntegrationRequest { .. } => Template::IntegrationRequest,
            Notice::Outcome { .. } => Template::Outcome,
            Notice::Pickup { .. } => Template::Pickup,
            Notice::Denial { .. } => Template::Denial,
            Notice::Withdrawal {} => Template::Withdrawal,
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
mod tests {
    use super::*;

    pub(crate) fn municipality() -> Municipality {
        Municipality {
            name: "Comune di Bergamo".into(),
            email: "sportello@comune.bergamo.it".into(),
            phone: "035 399111".into(),
            website: "https://www.comune.bergamo.it".into(),
            counter_address: "Piazza Matteotti 27, Bergamo".into(),
            opening_hours: vec![
                "Lunedì–Venerdì 8:30–12:30".into(),
                "Sabato 9:00–12:00".into(),
            ],
        }
    }

    fn common(subject: &str, protocol: bool) -> Common {
        Common {
            municipality: municipality(),
            citizen: "Giulia <script>alert(1)</script> Bonfanti".into(),
            practice: PracticeView {
                id: "6f1c0a52-0000-4000-8000-000000000001".into(),
                title: "Dichiarazione di residenza".into(),
                desk: "Anagrafe".into(),
                subject: subject.into(),
                integrates: None,
            },
            protocol: protocol.then(|| ProtocolView {
                register: "PG".into(),
                number: "0000042".into(),
                year: 2026,
                date: "14/03/2026".into(),
                time: "10:22".into(),
            }),
        }
    }

    const NASTY: &str = "Cambio <script>alert('x')</script> & \"via\"";

    fn render(notice: Notice, protocol: bool) -> Rendered {
        Templates::new()
            .render(&common(NASTY, protocol), &notice)
            .unwrap()
    }

    /// `needle` is in the text part as it is, and in the HTML part as minijinja escapes it.
    fn assert_both(rendered: &Rendered, needle: &str) {
        assert!(
            rendered.text.contains(needle),
            "{needle} in {}",
            rendered.text
        );
        let escaped = minijinja::HtmlEscape(needle).to_string();
        assert!(
            rendered.html.contains(&escaped),
            "{escaped} in {}",
            rendered.html
        );
    }

    /// Citizen input appears verbatim in the text part and only escaped in the HTML part.
    fn assert_escaped(rendered: &Rendered) {
        assert!(rendered.text.contains(NASTY), "{}", rendered.text);
        assert!(!rendered.html.contains("<script>"), "{}", rendered.html);
        assert!(
            rendered
                .html
                .contains("Cambio &lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt; &amp; &quot;via&quot;"),
            "{}",
            rendered.html
        );
        assert!(rendered.html.starts_with("<!DOCTYPE html>"));
        assert!(rendered.html.contains("<html lang=\"it\">"));
        assert_both(rendered, "Comune di Bergamo");
        assert_both(rendered, "sportello@comune.bergamo.it");
        assert!(!rendered.subject.contains('\n') && !rendered.subject.is_empty());
        assert!(!rendered.text.contains("\n\n\n"), "{}", rendered.text);
    }

    #[test]
    fn an_integrations_receipt_names_the_practice_it_answers() {
        let mut context = common("Integrazione: relazione firmata", true);
        context.practice.integrates = Some(IntegratedView {
            id: "6f1c0a52-0000-4000-8000-000000000007".into(),
            protocol: Some("0000017/2026".into()),
        });
        let notice = Notice::Receipt {
            documents: Vec::new(),
        };
        let rendered = Templates::new().render(&context, &notice).unwrap();
        assert_both(
            &rendered,
            "integrazione alla pratica 6f1c0a52-0000-4000-8000-000000000007",
        );
        assert_both(&rendered, "protocollo n. 0000017/2026");
        assert_both(&rendered, "0000042");
        // An application's receipt says nothing of integrations.
        let plain = Templates::new()
            .render(&common("Cambio di residenza", true), &notice)
            .unwrap();
        assert!(!plain.text.contains("integrazione"), "{}", plain.text);
        assert!(plain.text.contains("la Sua pratica è stata ricevuta"));
    }

    #[test]
    fn the_receipt_carries_number_date_and_every_impronta() {
        let rendered = render(
            Notice::Receipt {
                documents: vec![
                    RegisteredDocument {
                        file_name: "istanza.json".into(),
                        media_type: "application/json".into(),
                        impronta: "q1w2e3r4t5y6u7i8o9p0+/AAAAAAAAAAAAAAAAAAAAA=".into(),
                    },
                    RegisteredDocument {
                        file_name: "carta <b>identità</b>.pdf".into(),
                        media_type: "application/pdf".into(),
                        impronta: "ZmluZ2VycHJpbnQtb2YtdGhlLWlkLWNhcmQtZG9jdW0=".into(),
                    },
                ],
            },
            true,
        );
        assert_eq!(
            rendered.subject,
            "Ricevuta di protocollo n. 0000042 del 14/03/2026"
        );
        assert_both(&rendered, "0000042");
        assert!(rendered.text.contains("0000042/2026"));
        assert_both(&rendered, "14/03/2026");
        assert_both(&rendered, "protocollo generale");
        assert_both(&rendered, "q1w2e3r4t5y6u7i8o9p0+/AAAAAAAAAAAAAAAAAAAAA=");
        assert_both(&rendered, "ZmluZ2VycHJpbnQtb2YtdGhlLWlkLWNhcmQtZG9jdW0=");
        assert_both(&rendered, "impronta");
        assert!(rendered.text.contains("carta <b>identità</b>.pdf"));
        assert!(
            rendered
                .html
                .contains("carta &lt;b&gt;identità&lt;&#x2f;b&gt;.pdf")
        );
        assert!(rendered.text.starts_with("Gentile Giulia <script>"));
        assert!(!rendered.html.contains("<script>alert(1)"));
        assert_escaped(&rendered);
    }

    #[test]
    fn the_rejection_lists_every_reason() {
        let rendered = render(
            Notice::Rejection {
                reasons: vec![
                    Reason {
                        message: "Il codice fiscale non è valido.".into(),
                    },
                    Reason {
                        message: "Manca il documento <i>d'identità</i>.".into(),
                    },
                ],
            },
            false,
        );
        assert_eq!(rendered.subject, "La Sua pratica non è stata accettata");
        assert!(rendered.text.contains("per questi motivi:"));
        assert!(
            rendered
                .text
                .contains("- Il codice fiscale non è valido.\n")
        );
        assert!(
            rendered
                .text
                .contains("- Manca il documento <i>d'identità</i>.\n")
        );
        assert!(
            rendered
                .html
                .contains("<li>Manca il documento &lt;i&gt;d&#x27;identità&lt;&#x2f;i&gt;.</li>")
        );
        assert!(rendered.text.contains("non è stata protocollata"));
        assert_escaped(&rendered);
        let one = render(
            Notice::Rejection {
                reasons: vec![Reason {
                    message: "Oggetto vuoto.".into(),
                }],
            },
            false,
        );
        assert!(one.text.contains("per questo motivo:"));
    }

    #[test]
    fn the_integration_request_says_what_by_when_and_how() {
        let rendered = render(
            Notice::IntegrationRequest {
                missing: vec![
                    "Planimetria aggiornata".into(),
                    "Copia <del>del</del> contratto".into(),
                ],
                deadline: Some("30/04/2026".into()),
                message: Some("Servono due documenti.".into()),
            },
            true,
        );
        assert_eq!(
            rendered.subject,
            "Richiesta di integrazione per la Sua pratica (prot. n. 0000042/2026)"
        );
        assert_both(&rendered, "Planimetria aggiornata");
        assert_both(&rendered, "entro il 30/04/2026");
        assert_both(&rendered, "Servono due documenti.");
        assert_both(&rendered, "Come rispondere");
        assert_both(&rendered, "Sabato 9:00–12:00");
        assert!(
            rendered
                .html
                .contains("Copia &lt;del&gt;del&lt;&#x2f;del&gt; contratto")
        );
        assert_escaped(&rendered);

        let bare = render(
            Notice::IntegrationRequest {
                missing: vec![],
                deadline: None,
                message: None,
            },
            false,
        );
        assert!(bare.text.contains("Risponda il prima possibile."));
        assert!(!bare.text.contains("Scadenza"));
        assert_eq!(bare.subject, "Richiesta di integrazione per la Sua pratica");
    }

    #[test]
    fn the_outcome_separates_attached_and_downloadable_documents() {
        let rendered = render(
            Notice::Outcome {
                outcome: Some("Certificato rilasciato.".into()),
                attached: vec![ResultDocument {
                    file_name: "certificato.pdf".into(),
                    size: human_size(84_000),
                }],
                to_collect: vec![ResultDocument {
                    file_name: "planimetrie.zip".into(),
                    size: human_size(40 * 1024 * 1024),
                }],
            },
            true,
        );
        assert_eq!(
            rendered.subject,
            "La Sua pratica è conclusa (prot. n. 0000042/2026)"
        );
        assert_both(&rendered, "Certificato rilasciato.");
        assert_both(&rendered, "In allegato trova");
        assert_both(&rendered, "certificato.pdf (82 KB)");
        assert_both(&rendered, "troppo grandi per essere allegati");
        assert_both(&rendered, "planimetrie.zip (40,0 MB)");
        assert_escaped(&rendered);
        let nothing = render(
            Notice::Outcome {
                outcome: None,
                attached: vec![],
                to_collect: vec![],
            },
            false,
        );
        assert!(!nothing.text.contains("allegat"));
    }

    #[test]
    fn the_pickup_gives_the_counter_and_its_hours_saturday_included() {
        let rendered = render(
            Notice::Pickup {
                outcome: Some("Contrassegno pronto.".into()),
            },
            true,
        );
        assert_eq!(
            rendered.subject,
            "Pronto per il ritiro allo sportello (prot. n. 0000042/2026)"
        );
        assert_both(&rendered, "Piazza Matteotti 27, Bergamo");
        assert_both(&rendered, "Lunedì–Venerdì 8:30–12:30");
        assert_both(&rendered, "Sabato 9:00–12:00");
        assert_both(&rendered, "documento di identità");
        assert_both(&rendered, "Contrassegno pronto.");
        assert_escaped(&rendered);
    }

    #[test]
    fn the_denial_gives_its_reasons() {
        let rendered = render(
            Notice::Denial {
                reasons: vec!["Requisiti di reddito non soddisfatti.".into()],
            },
            true,
        );
        assert!(
            rendered
                .subject
                .starts_with("Esito negativo della Sua pratica")
        );
        assert_both(&rendered, "Requisiti di reddito non soddisfatti.");
        assert_both(&rendered, "non ha potuto");
        assert_escaped(&rendered);
    }

    #[test]
    fn the_withdrawal_confirms() {
        let rendered = render(Notice::Withdrawal {}, false);
        assert_eq!(rendered.subject, "Conferma del ritiro della Sua pratica");
        assert_both(&rendered, "è stata ritirata");
        assert_escaped(&rendered);
    }

    #[test]
    fn every_template_compiles_and_renders() {
        let templates = Templates::new();
        for template in Template::ALL {
            let notice = match template {
                Template::Receipt => Notice::Receipt { documents: vec![] },
                Template::Rejection => Notice::Rejection { reasons: vec![] },
                Template::IntegrationRequest => Notice::IntegrationRequest {
                    missing: vec![],
                    deadline: None,
                    message: None,
                },
                Template::Outcome => Notice::Outcome {
                    outcome: None,
                    attached: vec![],
                    to_collect: vec![],
                },
                Template::Pickup => Notice::Pickup { outcome: None },
                Template::Denial => Notice::Denial { reasons: vec![] },
                Template::Withdrawal => Notice::Withdrawal {},
            };
            assert_eq!(notice.template(), template);
            templates
                .render(&common("x", true), &notice)
                .unwrap_or_else(|e| panic!("{}: {e}", template.as_str()));
        }
    }

    #[test]
    fn sizes_read_like_italian() {
        assert_eq!(human_size(512), "512 byte");
        assert_eq!(human_size(2048), "2 KB");
        assert_eq!(human_size(3 * 1024 * 1024 + 400_000), "3,4 MB");
    }
}
