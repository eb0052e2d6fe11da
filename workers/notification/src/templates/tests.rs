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
        rendered.html.contains(
            "Cambio &lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt; &amp; &quot;via&quot;"
        ),
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
        term: None,
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
            term: None,
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
fn the_preavviso_gives_reasons_and_ten_days_for_observations() {
    let rendered = render(
        Notice::Preavviso {
            reasons: vec!["Manca la conformità <urbanistica> dell'immobile.".into()],
            deadline: Some("11/12/2026".into()),
            message: Some("Può allegare la relazione del tecnico.".into()),
        },
        true,
    );
    assert!(
        rendered
            .subject
            .starts_with("Preavviso di rigetto della Sua pratica"),
        "{}",
        rendered.subject
    );
    assert_both(&rendered, "art. 10-bis L. 241");
    assert_both(&rendered, "dell'immobile");
    assert_both(&rendered, "entro il 11/12/2026");
    assert_both(&rendered, "Può allegare la relazione del tecnico.");
    assert_both(&rendered, "il termine del procedimento è sospeso");
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
fn silent_consent_says_the_application_is_granted_and_attaches_the_attestation() {
    let rendered = render(
        Notice::SilentConsent {
            due_date: Some("02/12/2026".into()),
            formed_on: Some("03/12/2026".into()),
            term_days: Some(30),
            attached: vec![ResultDocument {
                file_name: "attestazione-silenzio-assenso.pdf".into(),
                size: human_size(3_000),
            }],
            to_collect: vec![],
        },
        true,
    );
    assert_eq!(
        rendered.subject,
        "La Sua domanda è accolta per silenzio-assenso (prot. n. 0000042/2026)"
    );
    assert_both(&rendered, "di 30 giorni");
    assert_both(&rendered, "il 02/12/2026");
    assert_both(&rendered, "art. 20 della L. 241");
    assert_both(&rendered, "dal 03/12/2026");
    assert_both(&rendered, "attestazione-silenzio-assenso.pdf");
    assert_escaped(&rendered);
}

#[test]
fn every_template_compiles_and_renders() {
    let templates = Templates::new();
    for template in Template::ALL {
        let notice = match template {
            Template::Receipt => Notice::Receipt {
                documents: vec![],
                term: None,
            },
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
            Template::Preavviso => Notice::Preavviso {
                reasons: vec![],
                deadline: None,
                message: None,
            },
            Template::Pickup => Notice::Pickup { outcome: None },
            Template::Denial => Notice::Denial { reasons: vec![] },
            Template::Withdrawal => Notice::Withdrawal {},
            Template::SilentConsent => Notice::SilentConsent {
                due_date: None,
                formed_on: None,
                term_days: None,
                attached: vec![],
                to_collect: vec![],
            },
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
