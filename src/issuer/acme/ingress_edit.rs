//! Adding the challenge's rule to a user's Ingress (`http01.ingress.name`) and taking exactly
//! that back out, as pure functions over the rule list.
//!
//! Not server-side apply with a field manager of our own, the natural tool for sharing an
//! object: `spec.rules` (and each rule's `paths`) is an atomic list in the Ingress schema, so
//! an apply of our one rule conflicts with the user's manager on the whole list, and forced,
//! replaces the user's rules with ours. Instead the controller reads the Ingress, adds one
//! rule of its own, and writes the list back conditionally on the resourceVersion it read (a
//! concurrent edit fails the write, which is retried from a fresh read).
//!
//! What is ours is recognised by content, not remembered: a path whose backend is the
//! challenge's own Service (a name derived from the Challenge's UID, see
//! [`super::solver::object_name`]). Removal drops those paths, then rules left without paths,
//! so the list is back to what it was whatever else the user changed meanwhile.
use k8s_openapi::api::networking::v1::IngressRule;

fn is_ours(service: &str) -> impl Fn(&k8s_openapi::api::networking::v1::HTTPIngressPath) -> bool {
    move |p| {
        p.backend
            .service
            .as_ref()
            .is_some_and(|s| s.name == service)
    }
}

/// The rules with `ours` added, or None when a path of ours is already there.
pub fn with_rule(
    rules: Option<&[IngressRule]>,
    ours: &IngressRule,
    service: &str,
) -> Option<Vec<IngressRule>> {
    let rules = rules.unwrap_or_default();
    let present = rules
        .iter()
        .flat_map(|r| r.http.iter().flat_map(|h| h.paths.iter()))
        .any(is_ours(service));
    if present {
        return None;
    }
    let mut out = rules.to_vec();
    out.push(ours.clone());
    Some(out)
}

/// The rules without any path to `service` (and without rules that only held such paths), or
/// None when there is nothing of ours. `Some(None)`: no rule is left at all, so the field goes.
pub fn without_ours(
    rules: Option<&[IngressRule]>,
    service: &str,
) -> Option<Option<Vec<IngressRule>>> {
    let rules = rules.unwrap_or_default();
    let mut found = false;
    let mut out = Vec::with_capacity(rules.len());
    for r in rules {
        let Some(http) = &r.http else {
            out.push(r.clone());
            continue;
        };
        let kept: Vec<_> = http
            .paths
            .iter()
            .filter(|p| !is_ours(service)(p))
            .cloned()
            .collect();
        if kept.len() == http.paths.len() {
            out.push(r.clone());
            continue;
        }
        found = true;
        if !kept.is_empty() {
            let mut r = r.clone();
            if let Some(h) = r.http.as_mut() {
                h.paths = kept;
            }
            out.push(r);
        }
    }
    found.then(|| Some(out).filter(|o| !o.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::networking::v1::{
        HTTPIngressPath, HTTPIngressRuleValue, IngressBackend, IngressServiceBackend,
    };

    fn rule(host: &str, paths: &[(&str, &str)]) -> IngressRule {
        IngressRule {
            host: Some(host.into()),
            http: Some(HTTPIngressRuleValue {
                paths: paths
                    .iter()
                    .map(|(path, svc)| HTTPIngressPath {
                        path: Some(path.to_string()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: svc.to_string(),
                                port: None,
                            }),
                            ..Default::default()
                        },
                    })
                    .collect(),
            }),
        }
    }

    #[test]
    fn adds_once_and_removes_exactly_what_it_added() {
        let user = vec![
            rule("web.example", &[("/", "app")]),
            IngressRule {
                host: Some("bare.example".into()),
                http: None,
            },
        ];
        let ours = rule(
            "web.example",
            &[("/.well-known/acme-challenge/t", "solver-1")],
        );
        let added = with_rule(Some(&user), &ours, "solver-1").unwrap();
        assert_eq!(added.len(), 3);
        assert_eq!(added[..2], user[..]);
        assert_eq!(
            with_rule(Some(&added), &ours, "solver-1"),
            None,
            "idempotent"
        );
        // Another challenge's rule goes in beside ours; removing ours leaves it.
        let other = rule(
            "api.example",
            &[("/.well-known/acme-challenge/u", "solver-2")],
        );
        let both = with_rule(Some(&added), &other, "solver-2").unwrap();
        let back = without_ours(Some(&both), "solver-1").unwrap().unwrap();
        assert_eq!(back, [user.clone(), vec![other]].concat());
        assert_eq!(
            without_ours(Some(&added), "solver-1"),
            Some(Some(user.clone()))
        );
        assert_eq!(
            without_ours(Some(&user), "solver-1"),
            None,
            "nothing of ours"
        );
    }

    #[test]
    fn a_path_of_ours_inside_a_user_rule_goes_alone() {
        // Someone moved our path into their rule: only the path goes, their rule stays.
        let mixed = vec![rule(
            "web.example",
            &[("/", "app"), ("/.well-known/acme-challenge/t", "solver-1")],
        )];
        let back = without_ours(Some(&mixed), "solver-1").unwrap().unwrap();
        assert_eq!(back, vec![rule("web.example", &[("/", "app")])]);
    }

    #[test]
    fn an_ingress_without_rules_gets_its_field_back_to_absent() {
        let ours = rule(
            "web.example",
            &[("/.well-known/acme-challenge/t", "solver-1")],
        );
        let added = with_rule(None, &ours, "solver-1").unwrap();
        assert_eq!(added, vec![ours]);
        assert_eq!(without_ours(Some(&added), "solver-1"), Some(None));
    }
}
