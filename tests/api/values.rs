use crate::helpers::spawn_app;
use valuelab_common::api::ValuesResponse;
use valuelab_common::{Value, ALL_VALUES};

#[tokio::test]
async fn values_lists_the_ten_schwartz_values_in_the_fixed_order() {
    let app = spawn_app().await;

    let response = app.get_values().await;

    assert_eq!(response.status().as_u16(), 200);
    let body: ValuesResponse = response.json().await.expect("values body is JSON");
    let values: Vec<Value> = body.values.iter().map(|v| v.value).collect();
    assert_eq!(values, ALL_VALUES.to_vec());
    for (i, info) in body.values.iter().enumerate() {
        assert_eq!(info.index, i);
        assert_eq!(info.name, info.value.name());
        assert_eq!(info.abbreviation, info.value.abbreviation());
        assert_eq!(info.definition, info.value.definition());
    }
}

#[tokio::test]
async fn values_json_uses_the_display_names_of_the_released_data() {
    let app = spawn_app().await;

    let body: serde_json::Value = app.get_values().await.json().await.expect("JSON");

    let names: Vec<&str> = body["values"]
        .as_array()
        .expect("a `values` array")
        .iter()
        .map(|v| v["name"].as_str().expect("a name string"))
        .collect();
    assert_eq!(names.len(), 10);
    assert_eq!(names[6], "Self-direction");
    assert_eq!(body["values"][6]["value"], "SelfDirection");
    assert_eq!(body["values"][6]["abbreviation"], "SD");
}
