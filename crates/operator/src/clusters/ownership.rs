//! Who owns an object on a managed cluster, and so whether a release may write or delete it.
//!
//! Everything the operator applies carries ownership labels: managed-by `acp-cvo`, the module and the
//! release version that applied it. A release takes over an existing object only when acp-cvo already
//! manages it or the bundle marks the manifest for adoption (annotation `config.alauda.io/adopt:
//! "true"`), as Helm does; a dropped module deletes only what acp-cvo manages for that module. An
//! object applied in an earlier attempt of the same operation already carries the labels, so a resumed
//! operation never refuses its own objects.
//!
//! Objects an operator applied before these labels existed carry no managed-by label, but their
//! `metadata.managedFields` still record a server-side apply by field manager `acp-cvo`: that is proof
//! the operator applied them, so they count as acp-cvo's. A managed-by label naming someone else wins
//! over that record: whoever relabelled the object has taken it over.

use acp_api::names::{self, annotations, labels};
use serde_json::{Map, Value};

/// What a release may do with an existing (or missing) object it is about to apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Nothing there yet: the release creates it.
    Absent,
    /// acp-cvo manages it (possibly for another module of the platform).
    Owned,
    /// Someone else's, but the bundle marks the manifest for adoption.
    Adoptable,
    /// Someone else's: applying would take it over. The text says who manages it, as far as known.
    Foreign(String),
}

impl Ownership {
    pub fn may_apply(&self) -> bool {
        !matches!(self, Ownership::Foreign(_))
    }
}

/// Whether the object at `live` may be overwritten by a manifest (`adopt`: the manifest is marked).
pub fn decide(live: Option<&Value>, adopt: bool) -> Ownership {
    let Some(live) = live else {
        return Ownership::Absent;
    };
    match label(live, labels::MANAGED_BY) {
        Some(names::FIELD_MANAGER) => Ownership::Owned,
        None if applied_by_acp_cvo(live) => Ownership::Owned,
        _ if adopt => Ownership::Adoptable,
        Some(other) => Ownership::Foreign(format!("it is managed by {other:?} ({})", labels::MANAGED_BY)),
        None => Ownership::Foreign(format!("it has no {} label", labels::MANAGED_BY)),
    }
}

/// What deleting a dropped module may do with one of its objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Removal {
    Delete,
    /// Left in place; the text says why.
    Keep(String),
}

/// Whether the live object belongs to `module` as acp-cvo applied it, and so may be deleted with it.
pub fn removal(live: &Value, module: &str) -> Removal {
    match label(live, labels::MANAGED_BY) {
        Some(names::FIELD_MANAGER) => {}
        Some(_) => {
            return Removal::Keep(format!(
                "acp-cvo does not manage it (no {}=acp-cvo)",
                labels::MANAGED_BY
            ));
        }
        None if applied_by_acp_cvo(live) => {}
        None => {
            return Removal::Keep(format!(
                "acp-cvo does not manage it (no {}=acp-cvo, and metadata.managedFields records no \
                 apply by acp-cvo)",
                labels::MANAGED_BY
            ));
        }
    }
    match label(live, labels::MODULE) {
        Some(m) if m == module => Removal::Delete,
        Some(other) => Removal::Keep(format!("module {other} manages it now")),
        None => Removal::Keep(format!("it has no {} label", labels::MODULE)),
    }
}

/// The manifest as it is applied: ownership labels set (overriding whatever the bundle wrote there)
/// and the adoption marker removed; with whether the marker asked for adoption.
pub fn labelled(manifest: &Value, module: &str, release: &str) -> (Value, bool) {
    let mut manifest = manifest.clone();
    let Some(object) = manifest.as_object_mut() else {
        return (manifest, false);
    };
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(metadata) = metadata.as_object_mut() else {
        return (manifest, false);
    };
    let mut adopt = false;
    let mut drop_annotations = false;
    if let Some(Value::Object(notes)) = metadata.get_mut("annotations") {
        adopt = notes.remove(annotations::ADOPT).as_ref().and_then(Value::as_str) == Some("true");
        drop_annotations = notes.is_empty();
    }
    if drop_annotations {
        metadata.remove("annotations");
    }
    let labels_value = metadata
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if !labels_value.is_object() {
        *labels_value = Value::Object(Map::new());
    }
    if let Some(set) = labels_value.as_object_mut() {
        set.insert(labels::MANAGED_BY.into(), names::FIELD_MANAGER.into());
        set.insert(labels::MODULE.into(), module.into());
        set.insert(labels::RELEASE_VERSION.into(), release.into());
    }
    (manifest, adopt)
}

/// Sets annotation `key` of `manifest` to `value`.
pub fn annotate(manifest: &mut Value, key: &str, value: &str) {
    let Some(metadata) = manifest
        .as_object_mut()
        .map(|o| o.entry("metadata").or_insert_with(|| Value::Object(Map::new())))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let notes = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if !notes.is_object() {
        *notes = Value::Object(Map::new());
    }
    if let Some(notes) = notes.as_object_mut() {
        notes.insert(key.into(), value.into());
    }
}

/// Whether `metadata.managedFields` records a server-side apply by acp-cvo's field manager.
fn applied_by_acp_cvo(live: &Value) -> bool {
    live.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|entries| {
            entries.iter().any(|entry| {
                entry.get("manager").and_then(Value::as_str) == Some(names::FIELD_MANAGER)
                    && entry.get("operation").and_then(Value::as_str) == Some("Apply")
            })
        })
}

fn label<'a>(live: &'a Value, key: &str) -> Option<&'a str> {
    live.pointer("/metadata/labels")?.get(key)?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(labels: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "gateway", "namespace": "cpaas-system", "labels": labels}})
    }

    #[test]
    fn only_what_acp_cvo_manages_or_the_bundle_adopts_may_be_overwritten() {
        let ours = live(json!({"app.kubernetes.io/managed-by": "acp-cvo", "config.alauda.io/module": "a"}));
        let other_module =
            live(json!({"app.kubernetes.io/managed-by": "acp-cvo", "config.alauda.io/module": "b"}));
        let helm = live(json!({"app.kubernetes.io/managed-by": "Helm"}));
        let bare = live(json!({"app": "gateway"}));
        let no_labels = json!({"metadata": {"name": "gateway"}});
        let table = [
            (None, false, Ownership::Absent),
            (None, true, Ownership::Absent),
            (Some(&ours), false, Ownership::Owned),
            (Some(&ours), true, Ownership::Owned),
            (Some(&other_module), false, Ownership::Owned),
            (Some(&helm), true, Ownership::Adoptable),
            (Some(&bare), true, Ownership::Adoptable),
            (
                Some(&helm),
                false,
                Ownership::Foreign("it is managed by \"Helm\" (app.kubernetes.io/managed-by)".into()),
            ),
            (
                Some(&bare),
                false,
                Ownership::Foreign("it has no app.kubernetes.io/managed-by label".into()),
            ),
            (
                Some(&no_labels),
                false,
                Ownership::Foreign("it has no app.kubernetes.io/managed-by label".into()),
            ),
        ];
        for (object, adopt, expected) in table {
            assert_eq!(decide(object, adopt), expected, "{object:?} adopt={adopt}");
        }
    }

    #[test]
    fn a_dropped_module_deletes_only_its_own_objects() {
        let table = [
            (
                live(
                    json!({"app.kubernetes.io/managed-by": "acp-cvo", "config.alauda.io/module": "logging"}),
                ),
                Removal::Delete,
            ),
            (
                live(json!({"app.kubernetes.io/managed-by": "acp-cvo", "config.alauda.io/module": "api"})),
                Removal::Keep("module api manages it now".into()),
            ),
            (
                live(json!({"app.kubernetes.io/managed-by": "acp-cvo"})),
                Removal::Keep("it has no config.alauda.io/module label".into()),
            ),
            (
                live(json!({"config.alauda.io/module": "logging"})),
                Removal::Keep(
                    "acp-cvo does not manage it (no app.kubernetes.io/managed-by=acp-cvo, and \
                     metadata.managedFields records no apply by acp-cvo)"
                        .into(),
                ),
            ),
            (
                live(json!({"app.kubernetes.io/managed-by": "Helm", "config.alauda.io/module": "logging"})),
                Removal::Keep("acp-cvo does not manage it (no app.kubernetes.io/managed-by=acp-cvo)".into()),
            ),
        ];
        for (object, expected) in table {
            assert_eq!(removal(&object, "logging"), expected, "{object}");
        }
    }

    /// A live object with `labels` whose managedFields hold one entry per (manager, operation).
    fn live_with_fields(labels: Value, fields: &[(&str, &str)]) -> Value {
        let mut object = live(labels);
        object["metadata"]["managedFields"] = fields
            .iter()
            .map(|(manager, operation)| {
                json!({"manager": manager, "operation": operation, "apiVersion": "apps/v1",
                       "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}})
            })
            .collect();
        object
    }

    #[test]
    fn what_acp_cvo_applied_before_the_labels_existed_is_still_its_own() {
        let release_only = json!({"config.alauda.io/release-version": "4.3.1"});
        // The built-in CRD as an earlier operator applied it: only the release-version label.
        let earlier_crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "platformcapabilities.release.alauda.io",
                         "labels": {"config.alauda.io/release-version": "4.3.1"},
                         "managedFields": [{"manager": "acp-cvo", "operation": "Apply",
                                            "apiVersion": "apiextensions.k8s.io/v1"}]}});
        let applied = live_with_fields(release_only.clone(), &[("acp-cvo", "Apply")]);
        let applied_among_others = live_with_fields(
            json!({}),
            &[("kube-controller-manager", "Update"), ("acp-cvo", "Apply")],
        );
        let updated_only = live_with_fields(release_only.clone(), &[("acp-cvo", "Update")]);
        let applied_by_kubectl = live_with_fields(release_only.clone(), &[("kubectl", "Apply")]);
        let relabelled = live_with_fields(
            json!({"app.kubernetes.io/managed-by": "Helm"}),
            &[("acp-cvo", "Apply"), ("helm", "Update")],
        );
        let no_label = Ownership::Foreign("it has no app.kubernetes.io/managed-by label".into());
        let table = [
            (&earlier_crd, false, Ownership::Owned),
            (&applied, false, Ownership::Owned),
            (&applied, true, Ownership::Owned),
            (&applied_among_others, false, Ownership::Owned),
            (&updated_only, false, no_label.clone()),
            (&applied_by_kubectl, false, no_label.clone()),
            (&applied_by_kubectl, true, Ownership::Adoptable),
            (
                &relabelled,
                false,
                Ownership::Foreign("it is managed by \"Helm\" (app.kubernetes.io/managed-by)".into()),
            ),
            (&relabelled, true, Ownership::Adoptable),
        ];
        for (object, adopt, expected) in table {
            assert_eq!(decide(Some(object), adopt), expected, "{object} adopt={adopt}");
        }
    }

    #[test]
    fn a_dropped_module_deletes_what_acp_cvo_applied_for_it_before_the_labels_existed() {
        let not_applied = "acp-cvo does not manage it (no app.kubernetes.io/managed-by=acp-cvo, and \
                           metadata.managedFields records no apply by acp-cvo)";
        let table = [
            (
                live_with_fields(
                    json!({"config.alauda.io/module": "logging"}),
                    &[("acp-cvo", "Apply")],
                ),
                Removal::Delete,
            ),
            (
                live_with_fields(json!({"config.alauda.io/module": "api"}), &[("acp-cvo", "Apply")]),
                Removal::Keep("module api manages it now".into()),
            ),
            (
                live_with_fields(
                    json!({"config.alauda.io/release-version": "4.3.1"}),
                    &[("acp-cvo", "Apply")],
                ),
                Removal::Keep("it has no config.alauda.io/module label".into()),
            ),
            (
                live_with_fields(
                    json!({"config.alauda.io/module": "logging"}),
                    &[("acp-cvo", "Update")],
                ),
                Removal::Keep(not_applied.into()),
            ),
            (
                live_with_fields(
                    json!({"config.alauda.io/module": "logging"}),
                    &[("kubectl", "Apply")],
                ),
                Removal::Keep(not_applied.into()),
            ),
            (
                live_with_fields(
                    json!({"app.kubernetes.io/managed-by": "logging-team", "config.alauda.io/module": "logging"}),
                    &[("acp-cvo", "Apply")],
                ),
                Removal::Keep("acp-cvo does not manage it (no app.kubernetes.io/managed-by=acp-cvo)".into()),
            ),
        ];
        for (object, expected) in table {
            assert_eq!(removal(&object, "logging"), expected, "{object}");
        }
    }

    #[test]
    fn applied_manifests_carry_the_ownership_labels_and_lose_the_marker() {
        let manifest = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "gateway", "namespace": "cpaas-system",
                         "labels": {"app": "gateway", "app.kubernetes.io/managed-by": "someone"},
                         "annotations": {"config.alauda.io/adopt": "true"}},
            "spec": {"replicas": 1}});
        let (applied, adopt) = labelled(&manifest, "gateway", "4.4.0");
        assert!(adopt);
        assert_eq!(
            applied["metadata"]["labels"],
            json!({"app": "gateway", "app.kubernetes.io/managed-by": "acp-cvo",
                   "config.alauda.io/module": "gateway", "config.alauda.io/release-version": "4.4.0"})
        );
        assert!(applied["metadata"].get("annotations").is_none(), "{applied}");
        assert_eq!(applied["spec"], manifest["spec"]);

        let kept = json!({"metadata": {"name": "x", "annotations": {"note": "kept", "config.alauda.io/adopt": "yes"}}});
        let (applied, adopt) = labelled(&kept, "m", "4.4.0");
        assert!(!adopt, "only \"true\" asks for adoption");
        assert_eq!(applied["metadata"]["annotations"], json!({"note": "kept"}));

        let bare = json!({"apiVersion": "v1", "kind": "ConfigMap"});
        let (applied, adopt) = labelled(&bare, "m", "4.4.0");
        assert!(!adopt);
        assert_eq!(applied["metadata"]["labels"]["config.alauda.io/module"], "m");
    }
}
