//! Response headers every page carries, and the checks every mutation passes: same origin, and the
//! session's CSRF token.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use http::header;

/// Scripts and styles only from the console's own files; nothing inline, nothing framed, forms post only
/// back here.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every response.
pub async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// True when the request comes from a page of this console: its Origin (or, without one, its Referer)
/// names the host the request was sent to. A browser always sends Origin on a cross-site POST.
pub fn same_origin(headers: &http::HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|h| h.to_str().ok());
    let Some(source) = source else {
        return false;
    };
    let rest = source
        .strip_prefix("http://")
        .or_else(|| source.strip_prefix("https://"));
    rest.is_some_and(|rest| rest.split('/').next() == Some(host))
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn only_pages_of_this_host_may_post() {
        let ok = headers(&[("host", "127.0.0.1:8443"), ("origin", "http://127.0.0.1:8443")]);
        assert!(same_origin(&ok));
        let referer = headers(&[
            ("host", "console.example"),
            ("referer", "https://console.example/clusters/a"),
        ]);
        assert!(same_origin(&referer));
        let other = headers(&[("host", "127.0.0.1:8443"), ("origin", "http://evil.example")]);
        assert!(!same_origin(&other));
        let prefix = headers(&[
            ("host", "127.0.0.1:8443"),
            ("origin", "http://127.0.0.1:8443.evil.example"),
        ]);
        assert!(!same_origin(&prefix));
        assert!(!same_origin(&headers(&[("host", "127.0.0.1:8443")])));
        let null = headers(&[("host", "127.0.0.1:8443"), ("origin", "null")]);
        assert!(!same_origin(&null));
    }

    #[test]
    fn tokens_compare_equal_only_when_identical() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
