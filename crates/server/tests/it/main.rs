//! The router in-process (`oneshot`), over a real service on temporary SQLite files.
#![allow(missing_debug_implementations)]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use hush_server::{AppState, ROUTES, app};
use hush_service::ServiceConfig;
use hush_service::bootstrap::{OpenOptions, open};
use tower::ServiceExt;

async fn router() -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let opened = open(OpenOptions::in_dirs(dir.path().join("data"), dir.path().join("keys"), ServiceConfig::default()))
        .await
        .unwrap();
    (app(AppState::new(opened.hush)), dir)
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let (router, _dir) = router().await;
    for (method, path) in ROUTES {
        let path = path
            .replace("{namespace}", "default")
            .replace("{scope}", "global")
            .replace("{name}", "x")
            .replace("{id}", "0123456789abcdef")
            .replace("{path}", "secret/x");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = router
            .clone()
            .oneshot(Request::builder().method(method.clone()).uri(&path).body(Body::from("{}")).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        let code = serde_json::from_slice::<serde_json::Value>(&body).ok().map(|v| v["error"]["code"].clone());
        assert!(
            code != Some(serde_json::json!("route_not_found")) && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {status} {text}"
        );
        // Without a token, everything but health and the document is refused
        // (bodies are checked first, so an empty body may be a 400).
        // The settings page's static files need no token: it signs in from the page.
        // Vault's status routes need none either; its other routes refuse with 403.
        let public = ["/v1/health", "/v1/openapi", "/ui", "/v1/sys/health", "/v1/sys/seal-status", "/v1/sys/leader"];
        if ["/v1/sys/", "/v1/auth/token/", "/v1/secret/"].iter().any(|p| path.starts_with(p)) {
            if !public.contains(&path.as_str()) {
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {text}");
                assert_eq!(text, r#"{"errors":["permission denied"]}"#, "{method} {path}");
            }
        } else if !public.iter().any(|p| path.starts_with(p)) {
            assert!(matches!(status, StatusCode::UNAUTHORIZED | StatusCode::BAD_REQUEST), "{method} {path}: {text}");
        }
    }
}

#[tokio::test]
async fn the_settings_page_is_served_with_a_strict_policy() {
    let (router, _dir) = router().await;
    for (path, kind) in [("/ui/", "text/html"), ("/ui/app.js", "text/javascript"), ("/ui/style.css", "text/css")] {
        let r = router.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let h = r.headers();
        assert!(h["content-type"].to_str().unwrap().starts_with(kind), "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'") && !csp.contains("unsafe"),
            "{csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["cross-origin-opener-policy"], "same-origin");
        assert!(csp.contains("trusted-types 'none'"), "{csp}");
    }
    let html = axum::body::to_bytes(
        router.clone().oneshot(Request::get("/ui/").body(Body::empty()).unwrap()).await.unwrap().into_body(),
        1 << 20,
    )
    .await
    .unwrap();
    let html = String::from_utf8_lossy(&html);
    // No inline script, style or handlers: everything comes from the two files.
    assert!(!html.contains("<script>") && !html.contains("<style") && !html.contains(" onclick="), "{html}");
    let r = router.oneshot(Request::get("/ui").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!((r.status(), r.headers()["location"].to_str().unwrap()), (StatusCode::PERMANENT_REDIRECT, "/ui/"));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_json() {
    let (router, _dir) = router().await;
    let r = router.clone().oneshot(Request::get("/v2/nothing").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = router.oneshot(Request::patch("/v1/tokens").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
    assert!(String::from_utf8_lossy(&body).contains("method_not_allowed"));
}
