use crate::helpers::spawn_app;
use valuelab_common::api::HealthResponse;

#[tokio::test]
async fn health_answers_ok_with_the_server_version() {
    let app = spawn_app().await;

    let response = app.get_health().await;

    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap_or("");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: HealthResponse = response.json().await.expect("health body is JSON");
    assert_eq!(body.status, "ok");
    // the server reports its own crate version, which is the workspace version of this crate too
    assert_eq!(body.version, env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn health_rejects_other_methods_with_405() {
    let app = spawn_app().await;

    let response = app
        .client
        .post(format!("{}/api/health", app.address))
        .send()
        .await
        .expect("request reaches the test server");

    assert_eq!(response.status().as_u16(), 405);
}
