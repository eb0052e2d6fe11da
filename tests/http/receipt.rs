//! The receipt (art. 18-bis L. 241/1990, with the contents of art. 8): one PDF attached to the
//! receipt email, archived beside the segnatura and downloaded from the API — the same bytes
//! each time — which `pdftotext` reads back with every field equal to the registration's.

use crate::mail::{self, Inbox};
use crate::support::{TestApi, sample};
use chrono::Duration;
use sportello_e2e::{PATIENCE, TestEnv, one_line, pdf_text};
use sportello_shared::domain::state::PracticeState;
use sportello_shared::objects::sha256_hex;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receipt_is_one_pdf_with_every_field_of_the_registration() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(&[
        "intake",
        "validation",
        "protocol",
        "storage",
        "notification",
    ]);
    let api = TestApi::start(&env).await;
    let pool = env.app.store.pool();
    let mut submission = sample("anagrafe.cambio_residenza-01.json");
    let cf = submission["applicant"]["tax_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let address = mail::tagged(
        submission["applicant"]["email"].as_str().unwrap(),
        &env.namespace,
    );
    submission["applicant"]["email"] = address.clone().into();
    let citizen = api.citizen(&cf);
    let accepted = api
        .post_json("/submissions", Some(&citizen), &submission)
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    let id: Uuid = accepted.json()["practice_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    env.wait_until_all_in(&[id], &[PracticeState::Stored]).await;
    mail::wait_until_settled(pool, &[id], PATIENCE).await;

    // The archived copy, the download and the email's attachment are one document.
    let (key, recorded): (String, String) = sqlx::query_as(
        "SELECT object_key, sha256 FROM practice_archive_objects WHERE practice_id = $1 AND kind = 'receipt'",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .expect("the receipt is archived");
    assert!(key.ends_with("/ricevuta.pdf"), "{key}");
    let archived = env.app.objects.get(&key).await.unwrap();
    assert_eq!(sha256_hex(&archived), recorded);
    let downloaded = api
        .get(&format!("/practices/{id}/receipt"), Some(&citizen))
        .await;
    assert_eq!(downloaded.status, 200, "{}", downloaded.text());
    assert_eq!(downloaded.content_type(), "application/pdf");
    let stranger = api.citizen("ZNCRRT96L44H501T");
    assert_eq!(
        api.get(&format!("/practices/{id}/receipt"), Some(&stranger))
            .await
            .status,
        404
    );
    let inbox = Inbox::new(&env.settings.smtp.web_api);
    let emails = inbox.to(&address).await;
    assert_eq!(emails.len(), 1, "one receipt email");
    // maildev keeps an attachment under a name of its own.
    let sink = env.settings.smtp.web_api.trim_end_matches('/').to_owned();
    let email: serde_json::Value = reqwest::get(format!("{sink}/api/email/{}", emails[0].id))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let attachment = email["attachments"]
        .as_array()
        .and_then(|all| all.iter().find(|a| a["filename"] == "ricevuta.pdf"))
        .unwrap_or_else(|| panic!("no ricevuta.pdf attached: {}", email["attachments"]));
    assert_eq!(attachment["contentType"], "application/pdf");
    let attached = reqwest::get(format!(
        "{sink}/api/email/{}/attachment/{}",
        emails[0].id,
        attachment["generatedFileName"].as_str().unwrap()
    ))
    .await
    .unwrap()
    .bytes()
    .await
    .unwrap();
    assert_eq!(
        sha256_hex(&attached),
        recorded,
        "the email's receipt is the archived one"
    );
    assert_eq!(
        sha256_hex(&downloaded.body),
        recorded,
        "the download is the archived receipt"
    );

    // Every field the law asks for, as the register and the configuration have it.
    let text = pdf_text(&archived);
    let (number, year, date, subject, documents): (
        i64,
        i32,
        chrono::NaiveDate,
        String,
        serde_json::Value,
    ) = sqlx::query_as(
        "SELECT number, year, registration_date, subject, documents FROM registrations \
             WHERE practice_id = $1 AND direction = 'incoming'",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap();
    let kind = env.app.catalog.get("anagrafe.cambio_residenza").unwrap();
    let (responsabile, remedies) = env.settings.procedure.desk(&kind.desk.code);
    let due = date + Duration::days(i64::from(kind.term_days));
    let mut expected = vec![
        env.settings.municipality.name.clone(),
        format!("Numero di protocollo: {number:07}/{year}"),
        format!("Data di presentazione: {}", date.format("%d/%m/%Y")),
        format!("Oggetto: {}", one_line(&subject)),
        format!("Ufficio competente: {}", one_line(&kind.office)),
        format!("Responsabile del procedimento: {}", one_line(responsabile)),
        format!("Termine del procedimento: {} giorni", kind.term_days),
        format!("Da concludere entro il: {}", due.format("%d/%m/%Y")),
        format!(
            "Se l'ufficio non risponde: {}",
            one_line(kind.silence.meaning())
        ),
        format!("Rimedi: {}", one_line(remedies)),
        format!("Codice pratica: {id}"),
        "area personale".to_owned(),
    ];
    for document in documents.as_array().unwrap() {
        expected.push(format!(
            "{}: {}",
            document["file_name"].as_str().unwrap(),
            document["impronta"].as_str().unwrap()
        ));
    }
    for field in &expected {
        assert!(
            text.contains(field.as_str()),
            "«{field}» not in the receipt:\n{text}"
        );
    }

    api.stop().await;
    fleet.stop().await;
    env.teardown().await;
}
