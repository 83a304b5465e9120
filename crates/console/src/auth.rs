//! Whose credentials a request uses, the browser session, and its CSRF token.

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::security::constant_time_eq;

/// Cookie holding the random session id (HttpOnly, SameSite=Strict).
pub const SESSION_COOKIE: &str = "acp_console_session";
/// Cookie holding the bearer token from the sign-in page (HttpOnly, SameSite=Strict).
pub const TOKEN_COOKIE: &str = "acp_console_token";

/// Whose credentials requests to the API server use.
#[derive(Clone)]
pub enum Mode {
    /// The person's own kubeconfig (`ac console`): one client for every request.
    Kubeconfig(kube::Client),
    /// Only the caller's bearer token, on the server URL and CA of this config; the config's own
    /// credentials are dropped before it is kept, so they are never used.
    Bearer(Box<kube::Config>),
}

impl Mode {
    /// Bearer mode on `config`'s server and CA, with every credential it carries removed.
    pub fn bearer(mut config: kube::Config) -> Self {
        config.auth_info = kube::config::AuthInfo::default();
        Mode::Bearer(Box::new(config))
    }
}

/// Why a request has no client.
#[derive(Debug)]
pub enum NoClient {
    /// Bearer mode and no token came with the request.
    SignIn,
    /// The client could not be built.
    Broken(String),
}

/// The client acting as the caller of this request.
pub fn client_for(mode: &Mode, headers: &HeaderMap) -> Result<kube::Client, NoClient> {
    match mode {
        Mode::Kubeconfig(client) => Ok(client.clone()),
        Mode::Bearer(base) => {
            let token = bearer_token(headers).ok_or(NoClient::SignIn)?;
            let mut config = (**base).clone();
            config.auth_info = kube::config::AuthInfo {
                token: Some(token.into()),
                ..Default::default()
            };
            kube::Client::try_from(config).map_err(|e| NoClient::Broken(e.to_string()))
        }
    }
}

/// The caller's token: an `Authorization: Bearer` header (from an auth proxy), else the sign-in cookie.
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    from_header
        .map(str::to_owned)
        .or_else(|| cookie(headers, TOKEN_COOKIE))
        .filter(|t| valid_token(t))
}

/// A token is sent in a header and kept in a cookie: only visible ASCII without cookie separators, bounded.
pub fn valid_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 8192
        && token
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b";,\\\"".contains(&b))
}

/// The value of a cookie of the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value the page's script cannot read and other sites never send.
pub fn set_cookie(name: &str, value: &str) -> String {
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict")
}

/// The key CSRF tokens are derived from; new each time the console starts.
pub struct SessionKey([u8; 32]);

impl SessionKey {
    pub fn generate() -> Result<Self, Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| Error::Random(e.to_string()))?;
        Ok(SessionKey(key))
    }

    #[cfg(test)]
    pub fn fixed(key: [u8; 32]) -> Self {
        SessionKey(key)
    }

    /// A new random session id.
    pub fn new_session(&self) -> Result<String, Error> {
        let mut id = [0u8; 24];
        getrandom::fill(&mut id).map_err(|e| Error::Random(e.to_string()))?;
        Ok(hex(&id))
    }

    /// The CSRF token of a session: a hash of the key and the session id, so the server stores nothing.
    pub fn csrf_token(&self, session: &str) -> String {
        let mut hash = Sha256::new();
        hash.update(self.0);
        hash.update(b"csrf:");
        hash.update(session.as_bytes());
        hex(&hash.finalize())
    }

    /// True when `token` is the CSRF token of `session` (compared in constant time).
    pub fn check(&self, session: &str, token: &str) -> bool {
        !session.is_empty() && constant_time_eq(self.csrf_token(session).as_bytes(), token.as_bytes())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csrf_token_belongs_to_one_session() {
        let key = SessionKey::fixed([7; 32]);
        let token = key.csrf_token("session-a");
        assert!(key.check("session-a", &token));
        assert!(!key.check("session-b", &token));
        assert!(!key.check("session-a", ""));
        assert!(!key.check("", &key.csrf_token("")));
        assert!(!SessionKey::fixed([8; 32]).check("session-a", &token));
    }

    #[test]
    fn the_token_comes_from_the_header_then_the_cookie() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        headers.insert(
            header::COOKIE,
            "a=b; acp_console_token=from-cookie".parse().unwrap(),
        );
        assert_eq!(bearer_token(&headers).as_deref(), Some("from-cookie"));
        headers.insert(header::AUTHORIZATION, "Bearer from-header".parse().unwrap());
        assert_eq!(bearer_token(&headers).as_deref(), Some("from-header"));
        headers.insert(header::AUTHORIZATION, "Basic xyz".parse().unwrap());
        assert_eq!(bearer_token(&headers).as_deref(), Some("from-cookie"));
    }

    #[test]
    fn bearer_mode_keeps_no_credential_of_its_own() {
        let mut config = kube::Config::new("https://10.0.0.1:6443".parse().unwrap());
        config.auth_info.token = Some("service-account".to_owned().into());
        config.auth_info.client_certificate_data = Some("cert".into());
        let Mode::Bearer(kept) = Mode::bearer(config) else {
            panic!("bearer mode")
        };
        assert!(kept.auth_info.token.is_none());
        assert!(kept.auth_info.client_certificate_data.is_none());
        assert!(client_for(&Mode::Bearer(kept), &HeaderMap::new()).is_err());
    }
}
