//! ACME Renewal Information (RFC 9773), the pure part: what to record from a server's answer,
//! when to ask again, and where in the suggested window to renew.
//!
//! The split with the certificate flow: the ACME side (`controller::acme::ari`) fetches the
//! window and records it in the Certificate's `status.acme.ari`, keyed by the certificate's
//! identifier; the certificate plan reads it through [`renewal_time`] and never talks to a CA.
//!
//! Our choices, against cert-manager's (`ACMEUseARI`, which renews at a random instant of the
//! window and ignores `renewBefore`):
//! - **Never later than the spec.** The window can only bring renewal forward: the time is
//!   chosen inside `[start, min(end, spec time)]`, and the spec time stands when the window
//!   opens after it. A user who asked for `renewBefore: 720h` keeps at least that margin.
//! - **A stable instant, not a fresh random one.** The point inside the window comes from a
//!   hash of the certificate identifier: spread evenly over many certificates as RFC 9773
//!   section 4.2 asks, yet the same on every reconcile and after restarts, so
//!   `status.renewalTime` does not move (and cost a write) each time it is computed.
//! - **Only the window of the certificate in the Secret counts.** A window recorded for an
//!   earlier certificate (its `certID` differs) is ignored: acting on it renewed the fresh
//!   certificate at once, over and over, in cert-manager (#8993).
use std::time::{Duration, SystemTime};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::acme::RenewalInfo;
use crate::api::{AcmeRenewalInfoStatus, AcmeRenewalWindow, api_time as time};

/// How long until asking again when the server sends no usable `Retry-After`.
pub const DEFAULT_POLL: Duration = Duration::from_secs(6 * 3600);
/// The shortest wait honoured: a server asking for less gets at most one request a minute.
pub const MIN_POLL: Duration = Duration::from_secs(60);
/// The longest wait honoured: RFC 9773 wants clients to look at least about once a day, so a
/// revocation is noticed in time whatever the server sends.
pub const MAX_POLL: Duration = Duration::from_secs(24 * 3600);

/// When to ask for renewal information again after an answer with `retry_after`.
pub fn next_check(now: SystemTime, retry_after: Option<Duration>) -> SystemTime {
    now + retry_after
        .unwrap_or(DEFAULT_POLL)
        .clamp(MIN_POLL, MAX_POLL)
}

/// The status to record for the certificate `cert_id` from the server's answer. Fails with a
/// message when the window is not two RFC 3339 times with `start` before `end` (RFC 9773
/// makes such an answer invalid: the client keeps its own schedule).
pub fn status_from(
    cert_id: &str,
    info: &RenewalInfo,
    now: SystemTime,
    retry_after: Option<Duration>,
) -> Result<AcmeRenewalInfoStatus, String> {
    let parse = |what: &str, s: &str| {
        s.parse::<Timestamp>()
            .map_err(|e| format!("suggestedWindow.{what} {s:?} is not an RFC 3339 time: {e}"))
    };
    let start = parse("start", &info.suggested_window.start)?;
    let end = parse("end", &info.suggested_window.end)?;
    if end <= start {
        return Err(format!(
            "suggestedWindow ends ({end}) before it starts ({start})"
        ));
    }
    Ok(AcmeRenewalInfoStatus {
        cert_id: Some(cert_id.to_string()),
        suggested_window: Some(AcmeRenewalWindow {
            start: Some(Time(start)),
            end: Some(Time(end)),
        }),
        explanation_url: info.explanation_url.clone().filter(|u| !u.is_empty()),
        last_checked: Some(time(now)),
        next_check: Some(time(next_check(now, retry_after))),
    })
}

/// Whether `ari` holds a fresh answer for `cert_id`: recorded for that certificate and not
/// due for another look at `now`.
pub fn is_current(ari: Option<&AcmeRenewalInfoStatus>, cert_id: &str, now: SystemTime) -> bool {
    ari.is_some_and(|a| {
        a.cert_id.as_deref() == Some(cert_id)
            && a.next_check.as_ref().is_some_and(|t| to_system(t) > now)
    })
}

/// The renewal time of the certificate `cert_id` given the spec's own renewal time and the
/// recorded window: `spec_time` unless a window for this very certificate opens before it,
/// then a stable point inside `[start, min(end, spec_time)]` (whole seconds). The flag says
/// whether the window decided.
pub fn renewal_time(
    spec_time: SystemTime,
    ari: Option<&AcmeRenewalInfoStatus>,
    cert_id: Option<&str>,
) -> (SystemTime, bool) {
    let Some((start, end)) = window_for(ari, cert_id) else {
        return (spec_time, false);
    };
    if start >= spec_time {
        return (spec_time, false);
    }
    let end = end.min(spec_time);
    let span = end.duration_since(start).unwrap_or_default();
    let at = start + span.mul_f64(spread(cert_id.unwrap_or_default()));
    (whole_seconds(at).max(whole_seconds(start)), true)
}

/// The recorded window, if it is for `cert_id` and well formed.
fn window_for(
    ari: Option<&AcmeRenewalInfoStatus>,
    cert_id: Option<&str>,
) -> Option<(SystemTime, SystemTime)> {
    let ari = ari?;
    if cert_id.is_none() || ari.cert_id.as_deref() != cert_id {
        return None;
    }
    let w = ari.suggested_window.as_ref()?;
    let (start, end) = (to_system(w.start.as_ref()?), to_system(w.end.as_ref()?));
    (start < end).then_some((start, end))
}

/// A fraction in [0, 1) fixed by `key`: where in the window to renew.
fn spread(key: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // FNV alone leaves the high bits of similar keys alike: mix them (MurmurHash3's
    // finalizer) before taking the 53 bits an f64 holds exactly.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => SystemTime::UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(_) => t,
    }
}

fn to_system(t: &Time) -> SystemTime {
    SystemTime::from(t.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acme::types::SuggestedWindow;

    const H: Duration = Duration::from_secs(3600);

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn ari(id: &str, start: SystemTime, end: SystemTime) -> AcmeRenewalInfoStatus {
        AcmeRenewalInfoStatus {
            cert_id: Some(id.into()),
            suggested_window: Some(AcmeRenewalWindow {
                start: Some(time(start)),
                end: Some(time(end)),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_window_brings_renewal_forward_but_never_past_the_spec() {
        let spec = t(100 * 3600);
        // A window well before the spec time: the renewal falls inside it.
        let early = ari("a.b", t(10 * 3600), t(20 * 3600));
        let (at, used) = renewal_time(spec, Some(&early), Some("a.b"));
        assert!(used);
        assert!(at >= t(10 * 3600) && at < t(20 * 3600), "{at:?}");
        // Straddling the spec time: inside the window, and not after the spec time.
        let straddle = ari("a.b", t(90 * 3600), t(120 * 3600));
        let (at, used) = renewal_time(spec, Some(&straddle), Some("a.b"));
        assert!(used && at >= t(90 * 3600) && at <= spec, "{at:?}");
        // Opening after the spec time: the spec wins.
        let late = ari("a.b", t(110 * 3600), t(120 * 3600));
        assert_eq!(renewal_time(spec, Some(&late), Some("a.b")), (spec, false));
        // A window in the past (a revocation): renewal is already due.
        let past = ari("a.b", t(0), t(1));
        let (at, _) = renewal_time(spec, Some(&past), Some("a.b"));
        assert!(at <= t(1));
    }

    #[test]
    fn a_window_for_another_certificate_or_none_is_ignored() {
        let spec = t(100 * 3600);
        let w = ari("old.cert", t(0), t(3600));
        assert_eq!(
            renewal_time(spec, Some(&w), Some("new.cert")),
            (spec, false)
        );
        assert_eq!(renewal_time(spec, Some(&w), None), (spec, false));
        assert_eq!(renewal_time(spec, None, Some("old.cert")), (spec, false));
        let mut inverted = ari("x.y", t(3600), t(0));
        assert_eq!(
            renewal_time(spec, Some(&inverted), Some("x.y")),
            (spec, false)
        );
        inverted.suggested_window = None;
        assert_eq!(
            renewal_time(spec, Some(&inverted), Some("x.y")),
            (spec, false)
        );
    }

    #[test]
    fn the_point_in_the_window_is_stable_and_spread() {
        let spec = t(1000 * 3600);
        let (start, end) = (t(0), t(100 * 3600));
        let at = |id: &str| renewal_time(spec, Some(&ari(id, start, end)), Some(id)).0;
        // The same certificate always gets the same instant, in whole seconds.
        assert_eq!(at("AAAA.BBBB"), at("AAAA.BBBB"));
        let secs = at("AAAA.BBBB")
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap();
        assert_eq!(secs.subsec_nanos(), 0);
        // Many certificates spread over the window: every tenth of it gets some.
        let mut deciles = [0u32; 10];
        for i in 0..1000 {
            let d = at(&format!("key.{i:04x}")).duration_since(start).unwrap();
            deciles[(d.as_secs() / (10 * 3600)) as usize] += 1;
        }
        assert!(deciles.iter().all(|&n| n > 50), "{deciles:?}");
    }

    #[test]
    fn retry_after_is_honoured_within_bounds() {
        let now = t(0);
        assert_eq!(next_check(now, None), now + 6 * H);
        assert_eq!(next_check(now, Some(2 * H)), now + 2 * H);
        assert_eq!(
            next_check(now, Some(Duration::from_secs(1))),
            now + MIN_POLL
        );
        assert_eq!(next_check(now, Some(1000 * H)), now + MAX_POLL);
    }

    #[test]
    fn answers_become_status_or_a_reason() {
        let info = RenewalInfo {
            suggested_window: SuggestedWindow {
                start: "2027-01-01T00:00:00.123Z".into(),
                end: "2027-01-03T00:00:00Z".into(),
            },
            explanation_url: Some("https://ca.example/why".into()),
        };
        let s = status_from("k.s", &info, t(0), Some(3 * H)).unwrap();
        assert_eq!(s.cert_id.as_deref(), Some("k.s"));
        assert_eq!(s.explanation_url.as_deref(), Some("https://ca.example/why"));
        assert_eq!(s.next_check, Some(time(t(0) + 3 * H)));
        assert!(is_current(Some(&s), "k.s", t(0)));
        assert!(!is_current(Some(&s), "k.s", t(3 * 3600)));
        assert!(!is_current(Some(&s), "other.id", t(0)));
        let bad = RenewalInfo {
            suggested_window: SuggestedWindow {
                start: "2027-01-03T00:00:00Z".into(),
                end: "2027-01-01T00:00:00Z".into(),
            },
            explanation_url: None,
        };
        assert!(status_from("k.s", &bad, t(0), None).is_err());
        let garbage = RenewalInfo {
            suggested_window: SuggestedWindow {
                start: "soon".into(),
                end: "later".into(),
            },
            explanation_url: None,
        };
        let e = status_from("k.s", &garbage, t(0), None).unwrap_err();
        assert!(e.contains("suggestedWindow.start"), "{e}");
    }
}
