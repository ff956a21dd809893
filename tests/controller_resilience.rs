//! Faults on the real control plane: the controller SIGKILLed again and again while 50
//! Certificates issue, and kube-apiserver stopped and restarted under it. Afterwards every
//! Certificate is Ready exactly once (revision 1), every Secret's key matches its certificate,
//! and no next-key Secret is left behind. Also: no key material in the most verbose logs.
//! One test per process state change, so they run one after another in this binary.
mod support;

use std::time::Duration;

use certwright::api::Certificate;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, ResourceExt};
use support::{ControllerProcess, TestNamespace, wait_for};

const N: usize = 50;

async fn create_many(client: &kube::Client, ns: &str) {
    let mut yaml = String::from(
        "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: { name: selfsigned }\nspec: { selfSigned: {} }\n",
    );
    for i in 0..N {
        yaml.push_str(&format!(
            "---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{ name: c{i} }}\nspec: {{ secretName: c{i}-tls, dnsNames: [c{i}.test], privateKey: {{ algorithm: ECDSA }}, issuerRef: {{ name: selfsigned }} }}\n"
        ));
    }
    support::apply_yaml(client, ns, &yaml).await;
}

fn is_ready(c: &Certificate) -> bool {
    c.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.is_true("Ready")))
}

/// Waits for all N Ready, then checks the invariants.
async fn all_ready_and_sound(client: &kube::Client, ns: &str, controller: &ControllerProcess) {
    let certs = Api::<Certificate>::namespaced(client.clone(), ns);
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    loop {
        let list = certs.list(&Default::default()).await.unwrap();
        let ready = list.items.iter().filter(|c| is_ready(c)).count();
        if ready == N {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {ready}/{N} Ready; log tail:\n{}",
            tail(&controller.log())
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Give the last cleanup step (next-key deletion) a moment to land.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for c in certs.list(&Default::default()).await.unwrap() {
        assert_eq!(
            c.status.as_ref().unwrap().revision,
            Some(1),
            "{} was issued more than once: {:?}",
            c.name_any(),
            c.status
        );
    }
    let secrets = Api::<Secret>::namespaced(client.clone(), ns)
        .list(&Default::default())
        .await
        .unwrap();
    let leftovers: Vec<_> = secrets
        .items
        .iter()
        .map(|s| s.name_any())
        .filter(|n| n.ends_with("-next-key"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "orphaned next-key Secrets: {leftovers:?}"
    );
    let mut tls = 0;
    for s in &secrets.items {
        let Some(data) = &s.data else { continue };
        let (Some(crt), Some(key)) = (data.get("tls.crt"), data.get("tls.key")) else {
            continue;
        };
        tls += 1;
        let key = certwright::pki::PrivateKey::from_pem(&key.0).unwrap();
        let leaf = certwright::issuer::first_certificate_pem(&crt.0).unwrap();
        assert!(
            key.matches_certificate_pem(&leaf).unwrap(),
            "Secret {} holds a key that is not its certificate's",
            s.name_any()
        );
    }
    assert_eq!(tls, N);
    let crs = Api::<certwright::api::CertificateRequest>::namespaced(client.clone(), ns)
        .list(&Default::default())
        .await
        .unwrap();
    assert_eq!(
        crs.items.len(),
        N,
        "one CertificateRequest per Certificate and revision: {:?}",
        crs.items
            .iter()
            .map(|r| (
                r.name_any(),
                r.annotations()
                    .get("cert-manager.io/certificate-revision")
                    .cloned()
            ))
            .collect::<Vec<_>>()
    );
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[tokio::test]
async fn survives_sigkill_and_apiserver_restarts() {
    let client = support::client().await;
    support::install_crds(&client).await;

    // 1. SIGKILL at random moments, ten times.
    let ns = TestNamespace::new(&client, "kill").await;
    create_many(&client, &ns.name).await;
    let mut seed = std::process::id() as u64;
    for _ in 0..10 {
        let mut c = ControllerProcess::start(&ns.name, &[]);
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let ms = 300 + (seed >> 33) % 1500;
        tokio::time::sleep(Duration::from_millis(ms)).await;
        c.child.kill().unwrap(); // SIGKILL
        c.child.wait().unwrap();
    }
    let controller = ControllerProcess::start(&ns.name, &[]);
    all_ready_and_sound(&client, &ns.name, &controller).await;
    drop(controller);

    // 2. kube-apiserver stopped and started again (etcd data kept) while 50 issue.
    let ns2 = TestNamespace::new(&client, "apirestart").await;
    let controller = ControllerProcess::start(&ns2.name, &[]);
    create_many(&client, &ns2.name).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let cluster = |verb: &str| {
        let out = std::process::Command::new(support::repo_root().join("scripts/cluster"))
            .arg(verb)
            .env(
                "CERTWRIGHT_CLUSTER_DIR",
                support::kubeconfig_path().parent().unwrap(),
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cluster {verb}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    cluster("stop-apiserver");
    tokio::time::sleep(Duration::from_secs(3)).await;
    cluster("start-apiserver");
    let client = support::client().await;
    all_ready_and_sound(&client, &ns2.name, &controller).await;
}

#[tokio::test]
async fn no_secrets_in_the_most_verbose_logs() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "logs").await;
    let mut controller = ControllerProcess::start_with_log_level(&ns.name, "trace");
    support::apply_yaml(
        &client,
        &ns.name,
        "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: { name: s }\nspec: { selfSigned: {} }\n---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: { name: c }\nspec: { secretName: c-tls, commonName: c.test, issuerRef: { name: s } }\n",
    )
    .await;
    let certs = Api::<Certificate>::namespaced(client.clone(), &ns.name);
    wait_for(&certs, "c", Duration::from_secs(60), |c| {
        c.is_some_and(is_ready)
    })
    .await;
    controller.child.kill().unwrap();
    controller.child.wait().unwrap();
    let log = controller.log();
    assert!(
        log.len() > 10_000,
        "trace logging produced too little output to mean anything"
    );
    let secret = Api::<Secret>::namespaced(client, &ns.name)
        .get("c-tls")
        .await
        .unwrap();
    let data = secret.data.unwrap();
    let key_pem = String::from_utf8(data["tls.key"].0.clone()).unwrap();
    let key_body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let b64 = |b: &[u8]| {
        use std::fmt::Write;
        // base64 without pulling in a crate: let openssl do it.
        let mut p = std::process::Command::new("openssl")
            .args(["base64", "-A"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(p.stdin.as_mut().unwrap(), b).unwrap();
        let out = p.wait_with_output().unwrap();
        let mut s = String::new();
        let _ = write!(s, "{}", String::from_utf8_lossy(&out.stdout));
        s
    };
    for needle in [
        "PRIVATE KEY-----".to_string(),
        "CERTIFICATE REQUEST-----".to_string(),
        key_body[..40].to_string(),
        b64(&data["tls.key"].0)[..40].to_string(),
    ] {
        assert!(
            !log.contains(&needle),
            "the controller log contains secret material ({needle:?})"
        );
    }
}
