//! Wording of the server-status line, kept free of Leptos so it is tested on the host.

use valuelab_common::api::HealthResponse;

/// What the footer says about `GET /api/health`: `None` while the request is in flight.
pub fn status_line(health: Option<&Result<HealthResponse, String>>) -> String {
    match health {
        None => "checking the server…".to_string(),
        Some(Ok(h)) if h.status == "ok" => format!("server ok (valuelab {})", h.version),
        Some(Ok(h)) => format!("server reports '{}' (valuelab {})", h.status, h.version),
        Some(Err(err)) => format!("server unreachable: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(status: &str) -> HealthResponse {
        HealthResponse {
            status: status.to_string(),
            version: "0.1.0".to_string(),
        }
    }

    #[test]
    fn a_healthy_server_shows_its_version() {
        assert_eq!(
            status_line(Some(&Ok(health("ok")))),
            "server ok (valuelab 0.1.0)"
        );
    }

    #[test]
    fn an_unexpected_status_is_shown_verbatim() {
        assert!(status_line(Some(&Ok(health("degraded")))).contains("'degraded'"));
    }

    #[test]
    fn pending_and_failed_requests_say_so() {
        assert_eq!(status_line(None), "checking the server…");
        let line = status_line(Some(&Err("http 502".to_string())));
        assert_eq!(line, "server unreachable: http 502");
    }
}
