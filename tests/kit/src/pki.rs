//! Certificates and keys of one test cluster, written as PEM files into its directory.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::error::{Error, Result};

/// Paths of the PEM files a cluster's components read, and the admin credentials as PEM text.
#[derive(Clone, Debug)]
pub(crate) struct Pki {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    pub front_proxy_ca_cert: PathBuf,
    pub front_proxy_client_cert: PathBuf,
    pub front_proxy_client_key: PathBuf,
    pub sa_public_key: PathBuf,
    pub sa_private_key: PathBuf,
    pub ca_pem: String,
    pub admin_cert_pem: String,
    pub admin_key_pem: String,
}

/// Name the API server accepts front-proxy (aggregation) requests from.
pub(crate) const FRONT_PROXY_CLIENT: &str = "front-proxy-client";

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

impl Pki {
    /// Generates a cluster CA, the API server's serving certificate (127.0.0.1, localhost and the in-cluster
    /// names), an admin client certificate in `system:masters`, a front-proxy CA with its client certificate,
    /// and the service-account signing key; writes them under `dir`.
    pub fn generate(cluster: &str, dir: &Path) -> Result<Pki> {
        let err = |e: rcgen::Error| Error::Certificates {
            cluster: cluster.to_owned(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        let write = |name: &str, text: &str| -> Result<PathBuf> {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| Error::io(format!("write {}", path.display()), e))?;
            Ok(path)
        };

        let ca = new_ca(&format!("{cluster}-ca")).map_err(err)?;
        let front_proxy_ca = new_ca(&format!("{cluster}-front-proxy-ca")).map_err(err)?;

        let mut serving = CertificateParams::new(vec![
            "localhost".to_owned(),
            "kubernetes".to_owned(),
            "kubernetes.default".to_owned(),
            "kubernetes.default.svc".to_owned(),
            "kubernetes.default.svc.cluster.local".to_owned(),
        ])
        .map_err(err)?;
        serving
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        serving
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::new(10, 96, 0, 1))));
        serving
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let (serving_pem, serving_key) = leaf(serving, &ca).map_err(err)?;

        let admin = client_params("kubernetes-admin", Some("system:masters")).map_err(err)?;
        let (admin_pem, admin_key) = leaf(admin, &ca).map_err(err)?;

        let proxy = client_params(FRONT_PROXY_CLIENT, None).map_err(err)?;
        let (proxy_pem, proxy_key) = leaf(proxy, &front_proxy_ca).map_err(err)?;

        let sa = KeyPair::generate().map_err(err)?;

        Ok(Pki {
            ca_cert: write("ca.crt", &ca.pem)?,
            ca_key: write("ca.key", &ca.key.serialize_pem())?,
            serving_cert: write("apiserver.crt", &serving_pem)?,
            serving_key: write("apiserver.key", &serving_key)?,
            front_proxy_ca_cert: write("front-proxy-ca.crt", &front_proxy_ca.pem)?,
            front_proxy_client_cert: write("front-proxy-client.crt", &proxy_pem)?,
            front_proxy_client_key: write("front-proxy-client.key", &proxy_key)?,
            sa_public_key: write("sa.pub", &sa.public_key_pem())?,
            sa_private_key: write("sa.key", &sa.serialize_pem())?,
            ca_pem: ca.pem,
            admin_cert_pem: admin_pem,
            admin_key_pem: admin_key,
        })
    }
}

fn new_ca(common_name: &str) -> Result<Ca, rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let pem = params.self_signed(&key)?.pem();
    Ok(Ca { params, key, pem })
}

fn client_params(common_name: &str, organization: Option<&str>) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, common_name);
    if let Some(org) = organization {
        params.distinguished_name.push(DnType::OrganizationName, org);
    }
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    Ok(params)
}

/// Signs `params` with `ca`; returns (certificate PEM, private key PEM).
fn leaf(mut params: CertificateParams, ca: &Ca) -> Result<(String, String), rcgen::Error> {
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let key = KeyPair::generate()?;
    let issuer = Issuer::from_params(&ca.params, &ca.key);
    let cert = params.signed_by(&key, &issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}
