use crate::helpers::spawn_app;
use valuelab_common::api::ErrorResponse;

#[tokio::test]
async fn unknown_api_route_is_a_json_404_naming_the_path() {
    let app = spawn_app().await;

    let response = app.get("/api/no-such-thing").await;

    assert_eq!(response.status().as_u16(), 404);
    let body: ErrorResponse = response.json().await.expect("error body is JSON");
    assert!(
        body.error.contains("GET /api/no-such-thing"),
        "{}",
        body.error
    );
}

#[tokio::test]
async fn non_api_path_without_a_web_app_is_a_404_that_says_how_to_get_one() {
    let app = spawn_app().await;

    let response = app.get("/").await;

    assert_eq!(response.status().as_u16(), 404);
    let text = response.text().await.expect("text body");
    assert!(text.contains("no index.html"), "{text}");
    assert!(text.contains("/api/health"), "{text}");
}
