//! The ACME issuer on the Kubernetes side: the account (key Secret, TLS trust, registration)
//! and the pure plans of the Order/Challenge flow ([`plan`]). The protocol itself is in
//! [`crate::acme`]; the controllers that drive orders are in `controller::acme`.
pub mod ari;
pub mod dns01;
pub mod httproute;
pub mod ingress_edit;
pub mod plan;
pub mod solver;
pub mod validity;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use kube::{Api, Client};

use super::{IssuerError, Resolved};
use crate::acme::{self, Account, AccountKey, Directory, HttpClient, Trust};
use crate::api::{AcmeIssuer, AcmeIssuerStatus};

/// Key of the account Secret when `privateKeySecretRef.key` is not set.
pub const ACCOUNT_KEY: &str = "tls.key";

/// Registered accounts, shared by the issuer, order and challenge controllers so an account
/// is registered once per process and configuration rather than once per reconcile.
#[derive(Default)]
pub struct Accounts {
    by_config: Mutex<HashMap<String, (Arc<Account>, AcmeIssuerStatus)>>,
}

impl Accounts {
    /// The account of an ACME issuer: reads (or creates) its key Secret, trusts what the spec
    /// says, and registers with the server unless this exact configuration already was.
    ///
    /// Fails when the spec is not ACME, the key Secret is missing and generation is disabled,
    /// the key is unusable, or the server refuses the registration.
    pub async fn get(
        &self,
        client: &Client,
        issuer: &Resolved,
    ) -> Result<(Arc<Account>, AcmeIssuerStatus), IssuerError> {
        let spec = issuer.spec.acme.as_ref().ok_or(IssuerError::Unsupported(
            "non-ACME issuer for an ACME order",
        ))?;
        let secrets = Api::<Secret>::namespaced(client.clone(), &issuer.secret_namespace);
        let key = load_or_create_key(&secrets, &issuer.secret_namespace, spec).await?;
        let trust = trust(spec);
        let config = cache_key(issuer, spec, &trust, &key);
        if let Some(hit) = self
            .by_config
            .lock()
            .ok()
            .and_then(|m| m.get(&config).cloned())
        {
            return Ok(hit);
        }
        let eab = match &spec.external_account_binding {
            Some(eab) => Some((
                eab.key_id.clone(),
                read_eab_key(&secrets, &issuer.secret_namespace, eab).await?,
            )),
            None => None,
        };
        let http = HttpClient::new(&trust)?;
        let dir = Directory::fetch(http, &spec.server).await?;
        if dir.external_account_required() && eab.is_none() {
            return Err(IssuerError::Acme(acme::Error::Server {
                status: 0,
                problem: acme::Problem {
                    kind: Some("urn:ietf:params:acme:error:externalAccountRequired".into()),
                    detail: Some(
                        "the ACME server requires an external account binding: set spec.acme.externalAccountBinding".into(),
                    ),
                    subproblems: vec![],
                },
            }));
        }
        let contact: Vec<String> = spec
            .email
            .iter()
            .filter(|e| !e.is_empty())
            .map(|e| format!("mailto:{e}"))
            .collect();
        let thumbprint = key.thumbprint().to_string();
        let account = Account::register(
            dir,
            key,
            &contact,
            eab.as_ref().map(|(id, mac)| acme::client::Eab {
                key_id: id,
                mac_key: mac,
            }),
        )
        .await?;
        let status = AcmeIssuerStatus {
            uri: Some(account.url().to_string()),
            last_registered_email: spec.email.clone().filter(|e| !e.is_empty()),
            last_private_key_hash: Some(thumbprint),
        };
        let entry = (Arc::new(account), status);
        if let Ok(mut m) = self.by_config.lock() {
            m.insert(config, entry.clone());
        }
        Ok(entry)
    }
}

/// The TLS trust an ACME spec asks for.
pub fn trust(spec: &AcmeIssuer) -> Trust {
    if spec.skip_tls_verify == Some(true) {
        Trust::Insecure
    } else if let Some(b) = spec.ca_bundle.as_ref().filter(|b| !b.0.is_empty()) {
        Trust::Bundle(b.0.clone())
    } else {
        Trust::System
    }
}

/// Everything registration depends on: a change in any of it registers again.
fn cache_key(issuer: &Resolved, spec: &AcmeIssuer, trust: &Trust, key: &AccountKey) -> String {
    let trust = match trust {
        Trust::System => "system".to_string(),
        Trust::Insecure => "insecure".to_string(),
        Trust::Bundle(b) => {
            acme::jws::b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b).as_ref())
        }
    };
    serde_json::json!([
        issuer.kind,
        issuer.secret_namespace,
        issuer.name,
        spec.server,
        spec.email,
        spec.external_account_binding.as_ref().map(|e| &e.key_id),
        trust,
        key.thumbprint(),
    ])
    .to_string()
}

async fn load_or_create_key(
    secrets: &Api<Secret>,
    namespace: &str,
    spec: &AcmeIssuer,
) -> Result<Arc<AccountKey>, IssuerError> {
    let sel = &spec.private_key_secret_ref;
    let data_key = sel.key_or(ACCOUNT_KEY);
    let invalid = |problem: String| IssuerError::SecretInvalid {
        namespace: namespace.to_string(),
        name: sel.name.clone(),
        problem,
    };
    match secrets.get_opt(&sel.name).await? {
        Some(secret) => {
            let pem = secret
                .data
                .as_ref()
                .and_then(|d| d.get(data_key))
                .map(|b| b.0.clone())
                .ok_or_else(|| {
                    invalid(format!("has no key {data_key:?} with the ACME account key"))
                })?;
            let key = AccountKey::from_pem(&pem).map_err(|e| invalid(e.to_string()))?;
            Ok(Arc::new(key))
        }
        None if spec.disable_account_key_generation == Some(true) => {
            Err(IssuerError::SecretNotFound {
                namespace: namespace.to_string(),
                name: sel.name.clone(),
            })
        }
        None => {
            let (key, pem) = AccountKey::generate()?;
            let secret: Secret = serde_json::from_value(serde_json::json!({
                "metadata": { "name": sel.name },
                "type": "Opaque",
                "stringData": { data_key: pem.as_str() },
            }))
            .map_err(|e| invalid(format!("building the Secret: {e}")))?;
            // Create, never overwrite: if another writer got there first, use its key.
            match secrets.create(&PostParams::default(), &secret).await {
                Ok(_) => Ok(Arc::new(key)),
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    Box::pin(load_or_create_key(secrets, namespace, spec)).await
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

async fn read_eab_key(
    secrets: &Api<Secret>,
    namespace: &str,
    eab: &crate::api::acme::AcmeExternalAccountBinding,
) -> Result<Vec<u8>, IssuerError> {
    use base64::Engine as _;
    let sel = &eab.key_secret_ref;
    let data_key = sel.key_or("secret");
    let secret = secrets
        .get_opt(&sel.name)
        .await?
        .ok_or_else(|| IssuerError::SecretNotFound {
            namespace: namespace.to_string(),
            name: sel.name.clone(),
        })?;
    let raw = secret
        .data
        .as_ref()
        .and_then(|d| d.get(data_key))
        .map(|b| b.0.clone())
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .map_err(|e| IssuerError::SecretInvalid {
            namespace: namespace.to_string(),
            name: sel.name.clone(),
            problem: format!("key {data_key:?} is not a base64url EAB MAC key: {e}"),
        })
}
