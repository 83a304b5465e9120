//! A registry that lies or stalls: the pull must refuse its content or give up, never trust it.
//!
//! A real registry stores content by digest and cannot be made to lie, so these tests serve the
//! distribution API from a small scripted HTTP server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use acp_bundle::{Bundle, BundleClient, BundleError, BundleRef, ClientOptions, artifact, pull};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

const YAML: &str = "kind: ProductRelease\nversion: 4.3.1\nkubernetes: {compatible: [\"1.34\"]}\n";

/// What the scripted registry answers for the bundle layer.
#[derive(Clone, Copy)]
enum Blob {
    /// Other bytes of the same length as the manifest declares.
    Tampered,
    /// Bytes without end, no Content-Length.
    Endless,
}

struct Script {
    /// The size the manifest declares for the layer.
    declared_size: u64,
    blob: Blob,
    /// Accept connections but never answer.
    stall: bool,
}

struct Fake {
    host: String,
    blob_requests: Arc<AtomicUsize>,
}

async fn serve(script: Script) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let blob_requests = Arc::new(AtomicUsize::new(0));
    let script = Arc::new(script);
    let counter = blob_requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let script = script.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                if script.stall {
                    // Hold the connection open without a word until the client gives up.
                    let _ = socket.read(&mut buf).await;
                    return;
                }
                let line = String::from_utf8_lossy(&request);
                let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                answer(&mut socket, &path, &script, &counter).await;
            });
        }
    });
    Fake { host, blob_requests }
}

async fn answer(
    socket: &mut tokio::net::TcpStream,
    path: &str,
    script: &Script,
    blob_requests: &AtomicUsize,
) {
    let layer_digest = artifact::sha256_digest(YAML.as_bytes());
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": artifact::ARTIFACT_TYPE,
        "config": {"mediaType": artifact::CONFIG_MEDIA_TYPE, "digest": artifact::sha256_digest(b"{}"), "size": 2},
        "layers": [{"mediaType": artifact::LAYER_MEDIA_TYPE, "digest": layer_digest, "size": script.declared_size}],
    }))
    .unwrap();
    let respond = |status: &str, content_type: &str, extra: String, body: &[u8]| {
        let mut out = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    };
    let response = if path == "/v2/" {
        respond("200 OK", "application/json", String::new(), b"{}")
    } else if path.contains("/manifests/") {
        let digest = artifact::sha256_digest(&manifest);
        respond(
            "200 OK",
            "application/vnd.oci.image.manifest.v1+json",
            format!("Docker-Content-Digest: {digest}\r\n"),
            &manifest,
        )
    } else if path.contains("/blobs/") {
        blob_requests.fetch_add(1, Ordering::SeqCst);
        match script.blob {
            Blob::Tampered => {
                let tampered = YAML.replace("4.3.1", "9.9.9");
                respond(
                    "200 OK",
                    "application/octet-stream",
                    String::new(),
                    tampered.as_bytes(),
                )
            }
            Blob::Endless => {
                let head =
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'x'; 64 * 1024];
                // Until the client hangs up.
                while socket.write_all(&chunk).await.is_ok() {}
                return;
            }
        }
    } else {
        respond(
            "404 Not Found",
            "application/json",
            String::new(),
            br#"{"errors":[{"code":"NOT_FOUND","message":"no"}]}"#,
        )
    };
    let _ = socket.write_all(&response).await;
    let _ = socket.shutdown().await;
}

fn at(fake: &Fake) -> BundleRef {
    BundleRef::parse(&format!("{}/acp/release:4.3.1", fake.host)).unwrap()
}

#[tokio::test]
async fn altered_content_is_refused() {
    let fake = serve(Script {
        declared_size: YAML.len() as u64,
        blob: Blob::Tampered,
        stall: false,
    })
    .await;
    let err = pull(&BundleClient::new(ClientOptions::default()), &at(&fake))
        .await
        .unwrap_err();
    assert!(matches!(err, BundleError::DigestMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("does not match its digest"), "{err}");
    assert!(
        err.to_string()
            .contains(&artifact::sha256_digest(YAML.as_bytes())),
        "{err}"
    );
}

#[tokio::test]
async fn a_layer_declared_over_the_limit_is_never_downloaded() {
    let fake = serve(Script {
        declared_size: 1 << 30,
        blob: Blob::Endless,
        stall: false,
    })
    .await;
    let err = pull(&BundleClient::new(ClientOptions::default()), &at(&fake))
        .await
        .unwrap_err();
    assert!(
        matches!(err, BundleError::TooLarge { size, .. } if size == 1 << 30),
        "{err:?}"
    );
    assert_eq!(
        fake.blob_requests.load(Ordering::SeqCst),
        0,
        "refused before downloading"
    );
}

#[tokio::test]
async fn an_endless_layer_is_cut_off() {
    let fake = serve(Script {
        declared_size: YAML.len() as u64,
        blob: Blob::Endless,
        stall: false,
    })
    .await;
    let err = pull(&BundleClient::new(ClientOptions::default()), &at(&fake))
        .await
        .unwrap_err();
    assert!(matches!(err, BundleError::DigestMismatch { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("more than {} bytes", YAML.len())),
        "{err}"
    );
    // The bundle itself is fine; only the registry misbehaved.
    assert!(Bundle::from_yaml(YAML).is_ok());
}

#[tokio::test]
async fn a_silent_registry_times_out() {
    let fake = serve(Script {
        declared_size: YAML.len() as u64,
        blob: Blob::Tampered,
        stall: true,
    })
    .await;
    let client = BundleClient::new(ClientOptions {
        timeout: Duration::from_millis(300),
        ..ClientOptions::default()
    });
    let err = pull(&client, &at(&fake)).await.unwrap_err();
    assert!(matches!(err, BundleError::Timeout { .. }), "{err:?}");
    assert!(err.is_transient());
    let message = err.to_string();
    assert!(
        message.contains("timed out after 0.3s while fetching the manifest of")
            && message.contains(&format!("check that registry {} is reachable", fake.host)),
        "{message}"
    );
}

#[tokio::test]
async fn a_manifest_other_than_the_pinned_digest_is_refused() {
    let fake = serve(Script {
        declared_size: YAML.len() as u64,
        blob: Blob::Tampered,
        stall: false,
    })
    .await;
    let pinned_elsewhere = format!("sha256:{}", "ab".repeat(32));
    let pinned = at(&fake).pinned(&pinned_elsewhere);
    let err = pull(&BundleClient::new(ClientOptions::default()), &pinned)
        .await
        .unwrap_err();
    assert!(matches!(err, BundleError::DigestMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains(&pinned_elsewhere), "{err}");
    assert_eq!(
        fake.blob_requests.load(Ordering::SeqCst),
        0,
        "nothing downloaded from a lying manifest"
    );
}
