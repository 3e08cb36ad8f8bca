//! Login, sessions, logout, and the CSRF defences (SameSite=Strict cookie, Origin check).

use crate::helpers::{error_text, json, spawn_app, PASSWORD};
use reqwest::StatusCode;
use serde_json::json;
use valuelab_common::api::auth::{Me, Role};

#[tokio::test]
async fn login_sets_an_http_only_same_site_session_cookie_and_me_answers() {
    let app = spawn_app().await;
    app.add_user(Role::Admin, "ada");
    let session = app.anonymous();

    let response = session.login("ada", PASSWORD).await;

    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("valuelab_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let me: Me = json(session.get("/api/auth/me").await).await;
    assert_eq!((me.username.as_str(), me.role), ("ada", Role::Admin));
}

#[tokio::test]
async fn wrong_passwords_and_unknown_names_get_the_same_401() {
    let app = spawn_app().await;
    app.add_user(Role::Member, "mel");
    let session = app.anonymous();

    let wrong = session.login("mel", "not the password").await;
    let unknown = session.login("nobody", PASSWORD).await;
    // a name no account can have, NUL included (which PostgreSQL cannot even compare; issue 8)
    let impossible = session.login("mel\u{0}", PASSWORD).await;

    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(impossible.status(), StatusCode::UNAUTHORIZED);
    let wrong = error_text(wrong).await;
    assert_eq!(wrong, error_text(unknown).await);
    assert_eq!(wrong, error_text(impossible).await);
    assert_eq!(
        session.get("/api/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn logout_ends_the_session_on_the_server() {
    let app = spawn_app().await;
    let session = app.logged_in(Role::Member, "mel").await;
    // the raw cookie, replayed after logout, must not work either
    let me = session.get("/api/auth/me").await;
    assert_eq!(me.status(), StatusCode::OK);

    let response = session.post("/api/auth/logout", &json!({})).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        session.get("/api/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_forged_cookie_is_not_a_session() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/api/auth/me", app.address))
        .header("cookie", "valuelab_session=0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(error_text(response).await.contains("log in"));
}

#[tokio::test]
async fn malformed_login_bodies_answer_400_in_json() {
    let app = spawn_app().await;
    let session = app.anonymous();
    let url = session.url("/api/auth/login");

    let broken = session
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"username\":")
        .send()
        .await
        .unwrap();
    let not_json = session
        .client
        .post(&url)
        .body("username=a&password=b")
        .send()
        .await
        .unwrap();
    let missing = session
        .post("/api/auth/login", &json!({"username": "a"}))
        .await;

    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(broken).await.contains("bad JSON"));
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(not_json).await.contains("application/json"));
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(missing).await.contains("password"));
}

#[tokio::test]
async fn a_state_changing_request_from_another_origin_is_refused() {
    let app = spawn_app().await;
    app.add_user(Role::Admin, "ada");
    let session = app.anonymous();

    let response = session
        .client
        .post(session.url("/api/auth/login"))
        .header("origin", "https://evil.example")
        .json(&json!({"username": "ada", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let same_origin = session
        .client
        .post(session.url("/api/auth/login"))
        .header("origin", app.address.clone())
        .json(&json!({"username": "ada", "password": PASSWORD}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(error_text(response).await.contains("cross-site"));
    assert_eq!(same_origin.status(), StatusCode::OK);
}
