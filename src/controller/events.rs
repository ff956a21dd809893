//! Publishing Events (events.k8s.io/v1), with repeats counted as a series of the first.
//!
//! Our own instead of kube-runtime's `Recorder`: that one keeps a copy of every Event it sent
//! in the last six minutes, whole, in one hash map. After a burst of a thousand issuances that
//! map (and its growth by doubling) was the controller's largest allocation, larger than the
//! caches of all Certificates, requests and Secrets together. A series only needs the Event's
//! name and count, so that is all this keeps.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};

/// How long a repeat still joins the series of the first Event (what client-go and
/// kube-runtime use too).
const SERIES_TTL: Duration = Duration::from_secs(6 * 60);

pub struct Events {
    client: Client,
    controller: String,
    instance: String,
    sent: Mutex<Sent>,
}

#[derive(Default)]
struct Sent {
    /// By object, type, reason and action: the Event to count a repeat on.
    series: HashMap<String, Series>,
    pruned: Option<Instant>,
}

struct Series {
    name: String,
    count: i32,
    last: Instant,
}

/// One Event to publish.
pub struct Note<'a> {
    pub warning: bool,
    pub reason: &'a str,
    pub action: &'a str,
    pub note: String,
}

impl Events {
    pub fn new(client: Client, controller: String, instance: Option<String>) -> Self {
        Events {
            instance: instance.unwrap_or_else(|| controller.clone()),
            controller,
            client,
            sent: Mutex::default(),
        }
    }

    /// Creates the Event, or counts it on the series of the same Event sent within
    /// [`SERIES_TTL`] (whose note stays).
    pub async fn publish(
        &self,
        regarding: ObjectReference,
        ev: Note<'_>,
        now: SystemTime,
    ) -> Result<(), kube::Error> {
        let ns = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let kind = if ev.warning { "Warning" } else { "Normal" };
        let key = format!(
            "{ns}/{}/{}/{kind}/{}/{}",
            regarding.kind.as_deref().unwrap_or_default(),
            regarding
                .uid
                .as_deref()
                .or(regarding.name.as_deref())
                .unwrap_or_default(),
            ev.reason,
            ev.action
        );
        let api = Api::<Event>::namespaced(self.client.clone(), &ns);
        let time = MicroTime(k8s_openapi::jiff::Timestamp::try_from(now).unwrap_or_default());
        if let Some((name, count)) = self.repeat(&key) {
            let patch = serde_json::json!({
                "series": { "count": count, "lastObservedTime": time },
            });
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                // Expired (the apiserver keeps Events for an hour) or deleted: start anew.
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let name = format!(
            "{}.{:x}",
            regarding.name.as_deref().unwrap_or(&self.controller),
            now.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        );
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns),
                ..Default::default()
            },
            action: Some(ev.action.to_string()),
            reason: Some(ev.reason.to_string()),
            note: Some(ev.note),
            type_: Some(kind.into()),
            event_time: Some(time),
            regarding: Some(regarding),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..Default::default()
        };
        api.create(&PostParams::default(), &event).await?;
        self.first(key, name);
        Ok(())
    }

    /// The series a repeat belongs to and its new count, counted already.
    fn repeat(&self, key: &str) -> Option<(String, i32)> {
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        let s = sent.series.get_mut(key)?;
        if s.last.elapsed() >= SERIES_TTL {
            return None;
        }
        // The first Event counts as one; its first repeat makes the series two.
        s.count += 1;
        s.last = Instant::now();
        Some((s.name.clone(), s.count))
    }

    fn first(&self, key: String, name: String) {
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        // Forget expired series now and then, not on every Event: a pass is O(all series).
        if sent
            .pruned
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(30))
        {
            sent.series.retain(|_, s| s.last.elapsed() < SERIES_TTL);
            sent.series.shrink_to_fit();
            sent.pruned = Some(Instant::now());
        }
        sent.series.insert(
            key,
            Series {
                name,
                count: 1,
                last: Instant::now(),
            },
        );
    }
}
