//! The pages' sign-in: an operator's password, the CSRF tokens, the lock-out, the citizen's
//! hand-over link, sessions that expire and end, and a citizen who cannot see another's
//! practice; the live timeline opens with the session cookie.

use crate::support::{TestApi, eventually, sample};
use sportello_api::auth::OperatorRole;
use sportello_api::web::accounts;
use sportello_e2e::TestEnv;
use std::collections::BTreeSet;

const PASSWORD: &str = "una password da sportello";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of the response's `Set-Cookie` for `name`.
fn cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

/// Opens the sign-in form and posts it; the response.
async fn sign_in(api: &TestApi, id: &str, password: &str, with_csrf: bool) -> reqwest::Response {
    let http = client();
    let form = http.get(api.url("/accesso")).send().await.unwrap();
    let login_cookie = cookie(&form, "sportello_accesso").expect("the form's cookie");
    let csrf = hidden_csrf(&form.text().await.unwrap());
    let mut fields = vec![
        ("operatore", id.to_owned()),
        ("password", password.to_owned()),
    ];
    if with_csrf {
        fields.push(("csrf", csrf));
    }
    http.post(api.url("/accesso"))
        .header("cookie", login_cookie)
        .form(&fields)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_and_citizens_sign_in_and_are_refused_as_they_should() {
    let env = TestEnv::new().await;
    let fleet = env.start_fleet(&["intake", "validation"]);
    let api = TestApi::start_with(&env, |http| {
        http.web.max_login_failures = 3;
        http.web.lockout_secs = 600;
        http.web.idle_secs = 4;
    })
    .await;
    let pool = env.app.store.pool();
    let roles: BTreeSet<OperatorRole> = [OperatorRole::Counter].into();
    accounts::add(pool, "OP-BG-021", "Giulia Bianchi", &roles, PASSWORD)
        .await
        .unwrap();
    accounts::add(pool, "OP-BG-022", "Marco Verdi", &roles, PASSWORD)
        .await
        .unwrap();
    let http = client();

    // Without a session the cruscotto sends to the sign-in page.
    let anonymous = http.get(api.url("/cruscotto")).send().await.unwrap();
    assert_eq!(anonymous.status(), 303);
    assert_eq!(anonymous.headers()["location"], "/accesso");

    // A wrong password, a form without its CSRF token.
    let wrong = sign_in(&api, "OP-BG-021", "non è questa", true).await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("non corretti"));
    let forged = sign_in(&api, "OP-BG-021", PASSWORD, false).await;
    assert_eq!(forged.status(), 403);
    assert!(cookie(&forged, "sportello_sessione").is_none());

    // The right password: a session cookie, HttpOnly and SameSite.
    let signed = sign_in(&api, "OP-BG-021", PASSWORD, true).await;
    assert_eq!(signed.status(), 303);
    let raw = signed
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("sportello_sessione="))
        .unwrap();
    assert!(
        raw.contains("HttpOnly") && raw.contains("SameSite=Lax"),
        "{raw}"
    );
    let session = cookie(&signed, "sportello_sessione").unwrap();
    let desk = http
        .get(api.url("/cruscotto"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(desk.status(), 200);
    let html = desk.text().await.unwrap();
    assert!(html.contains("Oggi allo sportello"), "{html}");
    let csrf = hidden_csrf(&html);

    // Signing out needs the CSRF token, and ends the session.
    let no_token = http
        .post(api.url("/esci"))
        .header("cookie", &session)
        .form(&[("csrf", "altro")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 403);
    let out = http
        .post(api.url("/esci"))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let ended = http
        .get(api.url("/cruscotto"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.headers()["location"], "/accesso?scaduta=1");

    // Repeated failures lock the account, even for the right password.
    for _ in 0..2 {
        assert_eq!(
            sign_in(&api, "OP-BG-022", "sbagliata", true).await.status(),
            401
        );
    }
    assert_eq!(
        sign_in(&api, "OP-BG-022", "sbagliata", true).await.status(),
        423
    );
    assert_eq!(
        sign_in(&api, "OP-BG-022", PASSWORD, true).await.status(),
        423
    );

    // A citizen's practice, and the citizen's hand-over link.
    let submission = sample("anagrafe.cambio_residenza-01.json");
    let cf = submission["applicant"]["tax_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let accepted = api
        .post_json("/submissions", Some(&api.citizen(&cf)), &submission)
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    let id = accepted.json()["practice_id"].as_str().unwrap().to_owned();
    let token = api.citizen(&cf);
    let handed = http
        .get(api.url(&format!("/accesso/cittadino?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(handed.status(), 303);
    assert_eq!(handed.headers()["location"], "/area-personale");
    let citizen = cookie(&handed, "sportello_sessione").unwrap();
    let again = http
        .get(api.url(&format!("/accesso/cittadino?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409, "a hand-over token opens one session");
    let mine = eventually("the practice is in the citizen's area", || async {
        let page = http
            .get(api.url("/area-personale"))
            .header("cookie", &citizen)
            .send()
            .await
            .unwrap();
        let html = page.text().await.unwrap();
        html.contains(&id).then_some(html)
    })
    .await;
    assert!(mine.contains("Le mie pratiche"));
    let own = http
        .get(api.url(&format!("/area-personale/pratiche/{id}")))
        .header("cookie", &citizen)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    // Another citizen sees nothing of it; nor do they reach the cruscotto.
    let stranger_token = api.citizen("ZNCRRT96L44H501T");
    let stranger = cookie(
        &http
            .get(api.url(&format!("/accesso/cittadino?token={stranger_token}")))
            .send()
            .await
            .unwrap(),
        "sportello_sessione",
    )
    .unwrap();
    for path in [
        format!("/area-personale/pratiche/{id}"),
        "/cruscotto".to_owned(),
    ] {
        let refused = http
            .get(api.url(&path))
            .header("cookie", &stranger)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 404, "{path}");
    }

    // The live timeline opens on the API's endpoint with the cookie alone.
    let live = http
        .get(api.url(&format!("/practices/{id}/events")))
        .header("cookie", &citizen)
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    assert!(
        live.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    drop(live);
    let stranger_live = http
        .get(api.url(&format!("/practices/{id}/events")))
        .header("cookie", &stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(stranger_live.status(), 404);

    // Left idle past http.web.idle_secs (watched in the database, since every request would
    // restart its clock), the citizen's session expires.
    eventually("the citizen's session is idle long enough", || async {
        let idle: bool = sqlx::query_scalar(
            "SELECT bool_and(last_seen_at < now() - interval '5 seconds') FROM web_sessions \
             WHERE tax_code = $1",
        )
        .bind(&cf)
        .fetch_one(pool)
        .await
        .unwrap();
        idle.then_some(())
    })
    .await;
    let expired = http
        .get(api.url("/area-personale"))
        .header("cookie", &citizen)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.headers()["location"], "/?cittadino=1&scaduta=1");

    api.stop().await;
    fleet.stop().await;
    env.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counter_form_is_the_catalogs_a_field_added_there_appears_in_it() {
    // The catalog with one more field for the duplicate electoral card, and nothing else edited.
    let text =
        std::fs::read_to_string(sportello_e2e::repository_root().join("shared/catalog.toml"))
            .unwrap();
    let old = r#"  { name = "motivo", label = "Motivo della richiesta (smarrimento, furto, deterioramento, spazi esauriti)", kind = "text" },
]"#;
    assert!(
        text.contains(old),
        "the catalog has the field this test extends"
    );
    let edited = text.replace(
        old,
        &format!(
            "{}\n  {{ name = \"sezione\", label = \"Sezione elettorale di iscrizione\", kind = \"integer\", required = false }},\n]",
            old.trim_end_matches(']').trim_end()
        ),
    );
    let file = std::env::temp_dir().join(format!("catalog-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(&file, &edited).unwrap();
    let path = file.display().to_string();
    let env = TestEnv::with_settings(|s| s.catalog.file = path.clone()).await;
    let api = TestApi::start(&env).await;
    let roles: BTreeSet<OperatorRole> = [OperatorRole::Counter].into();
    accounts::add(
        env.app.store.pool(),
        "OP-BG-050",
        "Luca Zanchi",
        &roles,
        PASSWORD,
    )
    .await
    .unwrap();
    let signed = sign_in(&api, "OP-BG-050", PASSWORD, true).await;
    let session = cookie(&signed, "sportello_sessione").expect("signed in");

    let published = api
        .get("/catalog/elettorale.duplicato_tessera", None)
        .await
        .json();
    let fields: Vec<&str> = published["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["motivo", "sezione"]);
    let form = client()
        .get(api.url("/cruscotto/nuova/elettorale.duplicato_tessera"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let html = form.text().await.unwrap();
    let shown = crate::mail::unescape_html(&html);
    for field in published["fields"].as_array().unwrap() {
        let name = field["name"].as_str().unwrap();
        assert!(
            html.contains(&format!("name=\"f_{name}\"")),
            "no input for {name}"
        );
        let label = field["label"].as_str().unwrap();
        assert!(shown.contains(label), "no label «{label}»");
    }
    for document in published["documents"].as_array().unwrap() {
        let role = document["role"].as_str().unwrap();
        assert!(
            html.contains(&format!("name=\"doc_{role}\"")),
            "no file input for {role}"
        );
    }

    api.stop().await;
    let _ = std::fs::remove_file(&file);
    env.teardown().await;
}
