use crate::helpers::spawn_app_with_static_files;

const INDEX: &str = "<!doctype html><title>valuelab test page</title>";

#[tokio::test]
async fn root_serves_index_html_from_the_static_folder() {
    let app = spawn_app_with_static_files(&[("index.html", INDEX)]).await;

    let response = app.get("/").await;

    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().await.expect("text body"), INDEX);
}

#[tokio::test]
async fn the_wasm_bundle_is_served_with_its_content_type() {
    let app = spawn_app_with_static_files(&[
        ("index.html", INDEX),
        ("pkg/valuelab_frontend_bg.wasm", "\0asm"),
    ])
    .await;

    let response = app.get("/pkg/valuelab_frontend_bg.wasm").await;

    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/wasm");
}

#[tokio::test]
async fn api_routes_win_over_static_files() {
    let app = spawn_app_with_static_files(&[("index.html", INDEX), ("api/health", "stale")]).await;

    let response = app.get_health().await;

    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.expect("JSON, not the stale file");
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn a_missing_file_under_a_served_web_app_is_404() {
    let app = spawn_app_with_static_files(&[("index.html", INDEX)]).await;

    let response = app.get("/pkg/valuelab_frontend.js").await;

    assert_eq!(response.status().as_u16(), 404);
}

#[tokio::test]
async fn the_app_pages_are_served_the_index_page() {
    let app = spawn_app_with_static_files(&[("index.html", INDEX)]).await;

    for path in [
        "/login",
        "/studies",
        "/studies/3",
        "/annotate/3",
        "/join/abc?PROLIFIC_PID=x",
        "/invite/t",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert_eq!(response.text().await.unwrap(), INDEX, "{path}");
    }
}
