//! The validity an order asks for under `spec.acme.enableDurationFeature`.
//!
//! Both ends are sent, computed from one instant: `notBefore` = now and `notAfter` = now +
//! the Certificate's duration. cert-manager sends `notAfter` alone, which leaves the start to
//! the server: a CA that backdates (or requires both ends, as DigiCert's does, cert-manager
//! #7536) then issues a different lifetime than asked. Off (the default), neither is sent:
//! Let's Encrypt refuses orders that carry them.
use std::time::{Duration, SystemTime};

use k8s_openapi::jiff::Timestamp;

/// `(notBefore, notAfter)` as RFC 3339 in whole seconds (`Z`), `duration` apart.
pub fn requested_validity(now: SystemTime, duration: Duration) -> (String, String) {
    let start = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| SystemTime::UNIX_EPOCH + Duration::from_secs(d.as_secs()))
        .unwrap_or(now);
    let end = start + Duration::from_secs(duration.as_secs());
    let fmt = |t: SystemTime| {
        Timestamp::try_from(t)
            .map(|ts| ts.to_string())
            .unwrap_or_default()
    };
    (fmt(start), fmt(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ends_from_one_instant_in_whole_seconds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_750);
        let (nb, na) = requested_validity(now, Duration::from_secs(3600));
        assert_eq!(nb, "2027-01-15T08:00:00Z");
        assert_eq!(na, "2027-01-15T09:00:00Z");
        let (nb, na) = requested_validity(now, Duration::from_millis(90_500));
        assert_eq!(
            (nb.as_str(), na.as_str()),
            ("2027-01-15T08:00:00Z", "2027-01-15T08:01:30Z")
        );
    }
}
