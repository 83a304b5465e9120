//! Signing and verification keys in the files cosign and openssl write: ECDSA P-256 only, which is
//! what `cosign generate-key-pair` makes.
//!
//! - public: PEM `PUBLIC KEY` (PKIX), as in `cosign.pub`; a file may hold several;
//! - private: PEM `PRIVATE KEY` (PKCS#8), `EC PRIVATE KEY` (SEC1), or cosign's own
//!   `ENCRYPTED SIGSTORE PRIVATE KEY` / `ENCRYPTED COSIGN PRIVATE KEY` (scrypt + NaCl secretbox
//!   around PKCS#8), as in `cosign.key`.
//!
//! Errors name the file and what to do; they never quote key material or a parser's text about it.

use base64::Engine as _;
use crypto_secretbox::aead::{Aead as _, KeyInit as _};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{DerSignature, Signature};
use p256::pkcs8::der::pem;
use p256::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _, EncodePublicKey as _};
use sha2::Digest as _;

const PUBLIC_LABEL: &str = "PUBLIC KEY";
const PKCS8_LABEL: &str = "PRIVATE KEY";
const SEC1_LABEL: &str = "EC PRIVATE KEY";
const SIGSTORE_ENCRYPTED_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
const COSIGN_ENCRYPTED_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// Key files are a few hundred bytes; anything much larger is not one.
pub const MAX_KEY_FILE_BYTES: usize = 64 * 1024;
/// Public keys one file may hold.
const MAX_KEYS_PER_FILE: usize = 32;

/// A key file that cannot be used. `file` is the file (or other origin) as the user named it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "{file} is not a PEM key file; give the public key `cosign generate-key-pair` writes \
         (cosign.pub, `-----BEGIN PUBLIC KEY-----`)"
    )]
    NotPublicKeyPem { file: String },
    #[error(
        "{file} is not a PEM private key; give the `cosign.key` that `cosign generate-key-pair` \
         writes, or a PKCS#8 or SEC1 P-256 key (`openssl ecparam -name prime256v1 -genkey -noout | \
         openssl pkcs8 -topk8 -nocrypt`)"
    )]
    NotPrivateKeyPem { file: String },
    #[error(
        "{file} holds a {label} block, which is not supported; release signing keys are ECDSA \
         P-256 ({expected})"
    )]
    UnsupportedLabel {
        file: String,
        label: String,
        expected: &'static str,
    },
    #[error(
        "{file} is not an ECDSA P-256 key; release signing keys are P-256, as `cosign \
         generate-key-pair` makes (RSA and Ed25519 keys are not supported)"
    )]
    NotP256 { file: String },
    #[error(
        "{file} is an encrypted cosign key and needs its password: set COSIGN_PASSWORD, as for \
         `cosign sign`"
    )]
    PasswordNeeded { file: String },
    #[error("cannot decrypt {file}: wrong password, or the file is damaged; check COSIGN_PASSWORD")]
    Decrypt { file: String },
    #[error(
        "{file} uses key-derivation settings cosign does not write; re-create it with `cosign \
         generate-key-pair` (or `cosign import-key-pair`)"
    )]
    UnsupportedEncryption { file: String },
    #[error("{file} is larger than {MAX_KEY_FILE_BYTES} bytes, so it is not a key file")]
    TooLarge { file: String },
    #[error("{file} holds more than {MAX_KEYS_PER_FILE} public keys; split it into several files")]
    TooManyKeys { file: String },
}

/// A public key releases are verified against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: p256::ecdsa::VerifyingKey,
    fingerprint: String,
    source: String,
}

impl PublicKey {
    /// Every `PUBLIC KEY` block of `text` (the content of key file `source`), at least one.
    pub fn from_pem(source: &str, text: &str) -> Result<Vec<PublicKey>, KeyError> {
        let not_pem = || KeyError::NotPublicKeyPem {
            file: source.to_owned(),
        };
        if text.len() > MAX_KEY_FILE_BYTES {
            return Err(KeyError::TooLarge {
                file: source.to_owned(),
            });
        }
        let blocks = pem_blocks(text);
        if blocks.is_empty() {
            return Err(not_pem());
        }
        if blocks.len() > MAX_KEYS_PER_FILE {
            return Err(KeyError::TooManyKeys {
                file: source.to_owned(),
            });
        }
        blocks
            .into_iter()
            .map(|block| {
                let (label, der) = pem::decode_vec(block.as_bytes()).map_err(|_| not_pem())?;
                if label != PUBLIC_LABEL {
                    return Err(KeyError::UnsupportedLabel {
                        file: source.to_owned(),
                        label: label.to_owned(),
                        expected: "PEM `PUBLIC KEY`, as in cosign.pub",
                    });
                }
                let key =
                    p256::ecdsa::VerifyingKey::from_public_key_der(&der).map_err(|_| KeyError::NotP256 {
                        file: source.to_owned(),
                    })?;
                Ok(PublicKey::new(key, source))
            })
            .collect()
    }

    fn new(key: p256::ecdsa::VerifyingKey, source: &str) -> PublicKey {
        PublicKey {
            fingerprint: fingerprint(&key),
            key,
            source: source.to_owned(),
        }
    }

    /// `sha256:HEX` of the key's DER (PKIX) form: what
    /// `openssl pkey -pubin -in cosign.pub -outform DER | sha256sum` prints.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Where the key came from (its file), for messages.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The key as `cosign.pub` holds it.
    pub fn to_pem(&self) -> String {
        self.key
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .unwrap_or_default()
    }

    /// Whether `signature` (ASN.1 DER, as cosign stores it) signs `payload` with this key.
    pub(crate) fn verifies(&self, payload: &[u8], signature: &[u8]) -> bool {
        // A fixed-size r||s form is what some other tools write; accept it as cosign does not.
        let Ok(signature) = Signature::from_der(signature) else {
            return false;
        };
        self.key.verify(payload, &signature).is_ok()
    }
}

/// A private key releases are signed with.
#[derive(Clone)]
pub struct SigningKey {
    key: p256::ecdsa::SigningKey,
    public: PublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("SigningKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The private key in `text` (the content of key file `source`); `password` decrypts a
    /// cosign-encrypted key and is ignored otherwise.
    pub fn from_pem(source: &str, text: &str, password: Option<&[u8]>) -> Result<SigningKey, KeyError> {
        let not_pem = || KeyError::NotPrivateKeyPem {
            file: source.to_owned(),
        };
        if text.len() > MAX_KEY_FILE_BYTES {
            return Err(KeyError::TooLarge {
                file: source.to_owned(),
            });
        }
        let block = pem_blocks(text).into_iter().next().ok_or_else(not_pem)?;
        let (label, der) = pem::decode_vec(block.as_bytes()).map_err(|_| not_pem())?;
        let not_p256 = || KeyError::NotP256 {
            file: source.to_owned(),
        };
        let key = match label {
            PKCS8_LABEL => p256::ecdsa::SigningKey::from_pkcs8_der(&der).map_err(|_| not_p256())?,
            SEC1_LABEL => p256::SecretKey::from_sec1_der(&der)
                .map(p256::ecdsa::SigningKey::from)
                .map_err(|_| not_p256())?,
            SIGSTORE_ENCRYPTED_LABEL | COSIGN_ENCRYPTED_LABEL => {
                let password = password.ok_or_else(|| KeyError::PasswordNeeded {
                    file: source.to_owned(),
                })?;
                let pkcs8 = decrypt_cosign_key(source, &der, password)?;
                p256::ecdsa::SigningKey::from_pkcs8_der(&pkcs8).map_err(|_| not_p256())?
            }
            other => {
                return Err(KeyError::UnsupportedLabel {
                    file: source.to_owned(),
                    label: other.to_owned(),
                    expected: "PEM `PRIVATE KEY`, `EC PRIVATE KEY` or cosign's encrypted key",
                });
            }
        };
        Ok(SigningKey::new(key, source))
    }

    /// A new random key, for tests and demos.
    pub fn generate(source: &str) -> SigningKey {
        use p256::elliptic_curve::Generate as _;
        SigningKey::new(p256::ecdsa::SigningKey::generate(), source)
    }

    fn new(key: p256::ecdsa::SigningKey, source: &str) -> SigningKey {
        let public = PublicKey::new(*key.verifying_key(), source);
        SigningKey { key, public }
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The key as an unencrypted PKCS#8 PEM (`PRIVATE KEY`), which `cosign import-key-pair` reads.
    pub fn to_pkcs8_pem(&self) -> String {
        self.key
            .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
            .map(|pem| pem.to_string())
            .unwrap_or_default()
    }

    /// An ECDSA P-256 / SHA-256 signature of `payload`, ASN.1 DER, as cosign stores it.
    pub(crate) fn sign(&self, payload: &[u8]) -> Vec<u8> {
        let signature: Signature = self.key.sign(payload);
        let der: DerSignature = signature.to_der();
        der.as_bytes().to_vec()
    }
}

fn fingerprint(key: &p256::ecdsa::VerifyingKey) -> String {
    let der = key.to_public_key_der().map(|d| d.to_vec()).unwrap_or_default();
    let digest = sha2::Sha256::digest(&der);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The `-----BEGIN …-----` … `-----END …-----` blocks of `text`, in order.
fn pem_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim_end();
        if line.starts_with("-----BEGIN ") {
            current = Some(String::new());
        }
        if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
            if line.starts_with("-----END ") {
                blocks.extend(current.take());
            }
        }
    }
    blocks
}

/// The JSON inside cosign's encrypted key PEM (go-securesystemslib's `encrypted` format).
#[derive(serde::Deserialize)]
struct Encrypted {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(serde::Deserialize)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}

#[derive(serde::Deserialize)]
struct KdfParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(serde::Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// The PKCS#8 DER inside a cosign-encrypted key.
fn decrypt_cosign_key(source: &str, json: &[u8], password: &[u8]) -> Result<Vec<u8>, KeyError> {
    let unsupported = || KeyError::UnsupportedEncryption {
        file: source.to_owned(),
    };
    let damaged = || KeyError::Decrypt {
        file: source.to_owned(),
    };
    let encrypted: Encrypted = serde_json::from_slice(json).map_err(|_| damaged())?;
    if encrypted.kdf.name != "scrypt" || encrypted.cipher.name != "nacl/secretbox" {
        return Err(unsupported());
    }
    // Only the three cost levels cosign writes: a file must not choose how much work we do.
    let log_n = match encrypted.kdf.params.n {
        32_768 => 15,
        65_536 => 16,
        131_072 => 17,
        _ => return Err(unsupported()),
    };
    if (encrypted.kdf.params.r, encrypted.kdf.params.p) != (8, 1) {
        return Err(unsupported());
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let salt = b64.decode(&encrypted.kdf.salt).map_err(|_| damaged())?;
    let nonce = b64.decode(&encrypted.cipher.nonce).map_err(|_| damaged())?;
    let ciphertext = b64.decode(&encrypted.ciphertext).map_err(|_| damaged())?;
    if nonce.len() != 24 {
        return Err(damaged());
    }
    let params = scrypt::Params::new(log_n, 8, 1).map_err(|_| unsupported())?;
    let mut key = [0u8; 32];
    scrypt::scrypt(password, &salt, &params, &mut key).map_err(|_| unsupported())?;
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(&key.into());
    let nonce = crypto_secretbox::Nonce::from_slice(&nonce);
    cipher
        .decrypt(nonce, ciphertext.as_slice())
        .map_err(|_| damaged())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_with_the_public_key_only() {
        let key = SigningKey::generate("test.key");
        let other = SigningKey::generate("other.key");
        let signature = key.sign(b"payload");
        assert!(key.public_key().verifies(b"payload", &signature));
        assert!(!key.public_key().verifies(b"payload!", &signature));
        assert!(!other.public_key().verifies(b"payload", &signature));
        assert!(!key.public_key().verifies(b"payload", b"not DER"));
    }

    #[test]
    fn keys_round_trip_through_pem_with_a_stable_fingerprint() {
        let key = SigningKey::generate("k");
        let public = PublicKey::from_pem("cosign.pub", &key.public_key().to_pem()).unwrap();
        assert_eq!(public.len(), 1);
        assert_eq!(public[0].fingerprint(), key.public_key().fingerprint());
        assert_eq!(public[0].source(), "cosign.pub");
        assert!(public[0].fingerprint().starts_with("sha256:"));
        assert_eq!(public[0].fingerprint().len(), 7 + 64);

        let again = SigningKey::from_pem("signing.pem", &key.to_pkcs8_pem(), None).unwrap();
        assert_eq!(again.public_key().fingerprint(), key.public_key().fingerprint());
    }

    #[test]
    fn a_file_may_hold_several_public_keys() {
        let (a, b) = (SigningKey::generate("a"), SigningKey::generate("b"));
        let text = format!(
            "# release keys\n{}\n{}",
            a.public_key().to_pem(),
            b.public_key().to_pem()
        );
        let keys = PublicKey::from_pem("keys.pem", &text).unwrap();
        let prints: Vec<&str> = keys.iter().map(PublicKey::fingerprint).collect();
        assert_eq!(
            prints,
            [a.public_key().fingerprint(), b.public_key().fingerprint()]
        );
    }

    #[test]
    fn unusable_files_are_named_and_never_quoted() {
        let key = SigningKey::generate("k");
        let private = key.to_pkcs8_pem();
        // A private key where a public one belongs: refused without echoing it.
        let err = PublicKey::from_pem("cosign.pub", &private).unwrap_err();
        assert!(matches!(err, KeyError::UnsupportedLabel { .. }), "{err}");
        let body: String = private.lines().nth(1).unwrap().to_owned();
        assert!(!err.to_string().contains(&body), "{err}");
        assert!(err.to_string().contains("cosign.pub"), "{err}");

        let err = PublicKey::from_pem("cosign.pub", "hello").unwrap_err();
        assert!(matches!(err, KeyError::NotPublicKeyPem { .. }), "{err}");
        let err = SigningKey::from_pem("cosign.key", &key.public_key().to_pem(), None).unwrap_err();
        assert!(matches!(err, KeyError::UnsupportedLabel { .. }), "{err}");
        let garbled = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        let err = PublicKey::from_pem("cosign.pub", garbled).unwrap_err();
        assert!(
            matches!(err, KeyError::NotP256 { .. } | KeyError::NotPublicKeyPem { .. }),
            "{err}"
        );
    }

    /// `cosign generate-key-pair` with COSIGN_PASSWORD=acp-test (cosign v2, scrypt N=2^16).
    const COSIGN_KEY: &str = include_str!("testdata/cosign.key");
    const COSIGN_PUB: &str = include_str!("testdata/cosign.pub");

    #[test]
    fn cosign_encrypted_keys_open_with_their_password() {
        let key = SigningKey::from_pem("cosign.key", COSIGN_KEY, Some(b"acp-test")).unwrap();
        let public = PublicKey::from_pem("cosign.pub", COSIGN_PUB).unwrap();
        assert_eq!(key.public_key().fingerprint(), public[0].fingerprint());

        let err = SigningKey::from_pem("cosign.key", COSIGN_KEY, Some(b"wrong")).unwrap_err();
        assert_eq!(
            err,
            KeyError::Decrypt {
                file: "cosign.key".into()
            }
        );
        let err = SigningKey::from_pem("cosign.key", COSIGN_KEY, None).unwrap_err();
        assert!(err.to_string().contains("COSIGN_PASSWORD"), "{err}");
    }
}
