//! ACME renewal against a real Pebble on the real control plane: ACME Renewal Information
//! (RFC 9773) times the renewal and the renewal order names the certificate it replaces, and
//! `enableDurationFeature` makes the order ask for the Certificate's duration.
mod support;

use std::time::{Duration, SystemTime};

use certwright::api::{Certificate, Order};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use support::acme::{
    issuer_yaml, quiet_pebble, setup, start_controller, wait_certificate, wait_issuer_ready,
};
use support::{apply_yaml, ready};

fn certificate_yaml(name: &str, issuer: &str, dns_name: &str, extra: &str) -> String {
    support::acme::certificate_yaml_with(name, issuer, &[dns_name], extra)
}

/// The leaf of a TLS Secret: its PEM and what `pki` reads from it.
async fn leaf(secrets: &Api<Secret>, name: &str) -> (String, certwright::pki::CertInfo) {
    let s = secrets.get(name).await.unwrap();
    let crt = &s.data.unwrap()["tls.crt"].0;
    let pem = certwright::issuer::first_certificate_pem(crt).unwrap();
    let info = certwright::pki::inspect_pem(&pem).unwrap();
    (String::from_utf8(pem).unwrap(), info)
}

fn ari(c: &Certificate) -> Option<&certwright::api::AcmeRenewalInfoStatus> {
    c.status.as_ref()?.acme.as_ref()?.ari.as_ref()
}

fn sys(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> SystemTime {
    SystemTime::from(t.0)
}

fn rfc3339(t: SystemTime) -> String {
    k8s_openapi::jiff::Timestamp::try_from(t)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_ari_window_times_renewal_and_the_renewal_order_replaces_the_old_certificate() {
    let s = setup("acme-ari", quiet_pebble()).await;
    let ns = s.ns.name.clone();
    let ctl = start_controller(&s);
    apply_yaml(
        &s.client,
        &ns,
        &issuer_yaml("pebble", &s.pebble, "", "{ ingress: {} }"),
    )
    .await;
    wait_issuer_ready(&s, "pebble", &ctl).await;
    // renewBefore 15 days: the spec alone renews on day 75 of Pebble's 90; Pebble's window
    // (a day either side of day 60) is earlier, so only ARI can put renewalTime in it.
    apply_yaml(
        &s.client,
        &ns,
        &certificate_yaml(
            "web",
            "pebble",
            &format!("web.{ns}.example"),
            "  renewBefore: 360h",
        ),
    )
    .await;
    let secrets = Api::<Secret>::namespaced(s.client.clone(), &ns);
    wait_certificate(&s, "web", &ctl, Duration::from_secs(120), ready).await;
    let (old_pem, old) = leaf(&secrets, "web-tls").await;
    let old_id = old.ari_cert_id.clone().expect("Pebble's leaf has an AKI");
    let c = wait_certificate(&s, "web", &ctl, Duration::from_secs(60), |c| {
        c.and_then(ari).and_then(|a| a.cert_id.as_deref()) == Some(old_id.as_str())
            && c.and_then(|c| c.status.as_ref())
                .and_then(|s| s.renewal_time.as_ref())
                .is_some_and(|t| sys(t) < old.not_after - Duration::from_secs(360 * 3600))
    })
    .await;
    let a = ari(&c).unwrap();
    let window = a.suggested_window.as_ref().unwrap();
    let (start, end) = (
        sys(window.start.as_ref().unwrap()),
        sys(window.end.as_ref().unwrap()),
    );
    let renewal = sys(c.status.as_ref().unwrap().renewal_time.as_ref().unwrap());
    assert!(
        start <= renewal && renewal <= end,
        "renewalTime {} outside the suggested window {} - {}",
        rfc3339(renewal),
        rfc3339(start),
        rfc3339(end)
    );
    // Pebble asks to look again in 6 hours; the next check honours that.
    let next = sys(a.next_check.as_ref().unwrap());
    let checked = sys(a.last_checked.as_ref().unwrap());
    assert_eq!(
        next.duration_since(checked).unwrap(),
        Duration::from_secs(6 * 3600)
    );

    // The CA now wants the certificate replaced at once (as after a revocation). A cleared
    // status.acme makes the controller ask again before its next check.
    let now = SystemTime::now();
    let answer = serde_json::json!({
        "suggestedWindow": {
            "start": rfc3339(now - Duration::from_secs(7200)),
            "end": rfc3339(now - Duration::from_secs(3600)),
        },
        "explanationURL": "https://ca.example/incident",
    });
    s.pebble
        .set_renewal_info(&old_pem, &answer.to_string())
        .await;
    let certs = Api::<Certificate>::namespaced(s.client.clone(), &ns);
    certs
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "status": { "acme": null } })),
        )
        .await
        .unwrap();

    // Renewed: revision 2, a new certificate, and the new one's own window recorded.
    let c = wait_certificate(&s, "web", &ctl, Duration::from_secs(120), |c| {
        ready(c)
            && c.and_then(|c| c.status.as_ref()).and_then(|s| s.revision) == Some(2)
            && c.and_then(ari)
                .and_then(|a| a.cert_id.as_deref())
                .is_some_and(|id| id != old_id)
    })
    .await;
    let (_, new) = leaf(&secrets, "web-tls").await;
    assert_ne!(new.serial, old.serial);
    assert_eq!(
        ari(&c).unwrap().cert_id,
        new.ari_cert_id,
        "the recorded window is the new certificate's"
    );
    let renewal = sys(c.status.as_ref().unwrap().renewal_time.as_ref().unwrap());
    assert!(
        renewal > SystemTime::now() + Duration::from_secs(50 * 86400),
        "the new certificate is not due at once (no loop): {}",
        rfc3339(renewal)
    );

    // The renewal order named the replaced certificate; Pebble took it as a replacement.
    let orders = Api::<Order>::namespaced(s.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    // The renewal's order replaces the old certificate (the first issuance's order, if the
    // revision history has not removed it yet, replaces nothing).
    let replacing: Vec<_> = orders
        .iter()
        .filter_map(|o| o.spec.replaces.clone())
        .collect();
    assert_eq!(replacing, vec![old_id.clone()]);
    assert!(orders.len() <= 2, "one order per issuance");
    let log = s.pebble.log();
    assert!(
        log.contains("is a replacement of") && log.contains("has been marked as replaced"),
        "Pebble did not take the order as a replacement:\n{log}"
    );

    // And it stays put: no further issuance.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let c = certs.get("web").await.unwrap();
    assert_eq!(c.status.as_ref().unwrap().revision, Some(2));
    let orders = Api::<Order>::namespaced(s.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert!(
        orders.len() <= 2
            && orders
                .iter()
                .all(|o| o.spec.replaces.as_ref() != new.ari_cert_id.as_ref()),
        "no order replaces the new certificate"
    );
    drop(ctl);
}

#[tokio::test]
async fn enable_duration_feature_orders_the_certificate_duration() {
    let s = setup("acme-duration", quiet_pebble()).await;
    let ns = s.ns.name.clone();
    let ctl = start_controller(&s);
    apply_yaml(
        &s.client,
        &ns,
        &issuer_yaml(
            "timed",
            &s.pebble,
            "    enableDurationFeature: true",
            "{ ingress: {} }",
        ),
    )
    .await;
    apply_yaml(
        &s.client,
        &ns,
        &issuer_yaml("plain", &s.pebble, "", "{ ingress: {} }"),
    )
    .await;
    wait_issuer_ready(&s, "timed", &ctl).await;
    wait_issuer_ready(&s, "plain", &ctl).await;
    for (name, issuer) in [("short", "timed"), ("long", "plain")] {
        apply_yaml(
            &s.client,
            &ns,
            &certificate_yaml(
                name,
                issuer,
                &format!("{name}.{ns}.example"),
                "  duration: 2h",
            ),
        )
        .await;
    }
    for name in ["short", "long"] {
        wait_certificate(&s, name, &ctl, Duration::from_secs(120), ready).await;
    }
    let secrets = Api::<Secret>::namespaced(s.client.clone(), &ns);
    // Asked for: exactly the two hours of the spec (Pebble honours notBefore and notAfter).
    let (_, short) = leaf(&secrets, "short-tls").await;
    assert_eq!(
        short.not_after.duration_since(short.not_before).unwrap(),
        Duration::from_secs(2 * 3600)
    );
    // Not asked for: Pebble's own 90-day profile (its validity period minus a second).
    let (_, long) = leaf(&secrets, "long-tls").await;
    assert_eq!(
        long.not_after.duration_since(long.not_before).unwrap(),
        Duration::from_secs(7_776_000 - 1)
    );
    let orders = Api::<Order>::namespaced(s.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(orders.len(), 2);
    for o in &orders {
        assert_eq!(
            o.spec.duration.map(|d| d.as_std()),
            Some(Duration::from_secs(7200)),
            "order {} carries the request's duration",
            o.name_any()
        );
    }
    drop(ctl);
}
