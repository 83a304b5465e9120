use serde_json::{Value, json};

use super::*;

fn crd_json(plural: &str) -> Value {
    let crd = all().into_iter().find(|c| c.spec.names.plural == plural).unwrap();
    serde_json::to_value(crd).unwrap()
}

/// The openAPIV3Schema of the only version.
fn schema(plural: &str) -> Value {
    let crd = crd_json(plural);
    assert_eq!(crd["spec"]["versions"].as_array().unwrap().len(), 1);
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// The schema at a dotted path of properties; `[]` steps into array items.
fn at(schema: &Value, path: &str) -> Value {
    let mut node = schema;
    for step in path.split('.') {
        node = if step == "[]" {
            &node["items"]
        } else {
            &node["properties"][step]
        };
        assert!(!node.is_null(), "no schema at {path} (stopped at {step})");
    }
    node.clone()
}

fn rules(node: &Value) -> Vec<(String, String)> {
    node["x-kubernetes-validations"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|r| {
                    (
                        r["rule"].as_str().unwrap().to_owned(),
                        r["message"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn cvsh_names_scope_and_subresources_are_as_acp_documents() {
    let crd = crd_json("clusterversionshadows");
    assert_eq!(crd["metadata"]["name"], "clusterversionshadows.config.alauda.io");
    assert_eq!(crd["spec"]["group"], "config.alauda.io");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["names"]["kind"], "ClusterVersionShadow");
    assert_eq!(crd["spec"]["names"]["shortNames"], json!(["cvsh"]));
    assert_eq!(crd["spec"]["names"]["categories"], json!(["clusterversion"]));
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1");
    assert_eq!(version["served"], true);
    assert_eq!(version["storage"], true);
    assert_eq!(version["subresources"]["status"], json!({}));
}

#[test]
fn cvsh_printer_columns_show_current_desired_ready_status_age() {
    let crd = crd_json("clusterversionshadows");
    let columns: Vec<(String, String)> = crd["spec"]["versions"][0]["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["jsonPath"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("Current", ".status.current.version"),
        ("Desired", ".status.desired.version"),
        ("Ready", r#".status.conditions[?(@.type=="Ready")].status"#),
        ("Status", r#".status.conditions[?(@.type=="Ready")].message"#),
        ("Age", ".metadata.creationTimestamp"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(n, p)| ((*n).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(columns, expected);
}

#[test]
fn product_manifest_is_cluster_scoped_with_ready_status_age_columns() {
    let crd = crd_json("productmanifests");
    assert_eq!(crd["metadata"]["name"], "productmanifests.config.alauda.io");
    assert_eq!(crd["spec"]["scope"], "Cluster");
    assert_eq!(crd["spec"]["names"]["shortNames"], json!(["pdman"]));
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["subresources"]["status"], json!({}));
    let names: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ready", "Status", "Age"]);
}

#[test]
fn desired_update_requires_exactly_one_of_version_and_image() {
    let node = at(&schema("clusterversionshadows"), "spec.desiredUpdate");
    assert_eq!(
        rules(&node),
        [(
            "has(self.version) != has(self.image)".to_owned(),
            "exactly one of desiredUpdate.version and desiredUpdate.image must be set".to_owned()
        )]
    );
    assert_eq!(node["properties"]["force"]["type"], "boolean");
}

#[test]
fn product_manifest_spec_is_one_of_and_immutable() {
    let spec = at(&schema("productmanifests"), "spec");
    let spec_rules = rules(&spec);
    assert!(spec_rules.contains(&(
        "has(self.version) != has(self.image)".to_owned(),
        "exactly one of spec.version and spec.image must be set".to_owned()
    )));
    assert!(
        spec_rules
            .iter()
            .any(|(rule, _)| rule.contains("oldSelf.version"))
    );
    for field in ["version", "image"] {
        let field_rules = rules(&spec["properties"][field]);
        assert_eq!(field_rules.len(), 1, "{field}");
        assert_eq!(field_rules[0].0, "self == oldSelf");
        assert!(field_rules[0].1.contains(&format!("spec.{field} is immutable")));
    }
}

#[test]
fn enums_are_closed_where_acp_documents_them() {
    let cvsh = schema("clusterversionshadows");
    let cases = [
        ("status.history.[].state", json!(["Completed", "Partial"])),
        (
            "status.preflight.checks.[].state",
            json!(["Passed", "Retry", "Failed"]),
        ),
        ("status.preflight.checks.[].policy", json!(["Always", "Once"])),
        (
            "status.stages.[].phase",
            json!(["Pending", "Running", "Finished"]),
        ),
        (
            "status.stages.[].operations.[].action",
            json!(["Install", "Upgrade", "Delete"]),
        ),
        ("spec.tier", json!(["Global", "GlobalStandby", "Workload"])),
        ("spec.provisioning", json!(["PlatformManaged", "ThirdParty"])),
        ("spec.kubernetesDriver", json!(["External", "ClusterAPI", "None"])),
    ];
    for (path, values) in cases {
        assert_eq!(at(&cvsh, path)["enum"], values, "{path}");
    }
    // The operation phase is free text: ACP writes phases such as UpgradePending.
    let phase = at(&cvsh, "status.stages.[].operations.[].phase");
    assert!(phase["enum"].is_null());
    assert_eq!(phase["type"], "string");

    let pdman = schema("productmanifests");
    assert_eq!(
        at(&pdman, "status.artifacts.[].packageType")["enum"],
        json!(["ModulePlugin", "OperatorBundle"])
    );
    assert_eq!(
        at(&pdman, "status.artifacts.[].channels.[].artifactStatus")["enum"],
        json!(["Ready", "Absent", "Failed"])
    );
    assert_eq!(
        at(&pdman, "status.release.kubernetes.globalUpgradeRule")["enum"],
        json!(["WithinCompatibleRange", "LatestCompatibleRequired"])
    );
    assert_eq!(
        at(&pdman, "status.release.modules.[].lifecycle")["enum"],
        json!(["Core", "Aligned"])
    );
}

#[test]
fn lists_merge_by_their_documented_keys() {
    let cvsh = schema("clusterversionshadows");
    let maps = [
        ("status.conditions", "type"),
        ("status.preflight.checks", "name"),
        ("status.stages", "name"),
        ("status.stages.[].operations", "name"),
    ];
    for (path, key) in maps {
        let node = at(&cvsh, path);
        assert_eq!(node["x-kubernetes-list-type"], "map", "{path}");
        assert_eq!(node["x-kubernetes-list-map-keys"], json!([key]), "{path}");
        let item_required = node["items"]["required"].as_array().unwrap();
        assert!(
            item_required.contains(&json!(key)),
            "{path}: key {key} must be required"
        );
    }
    let updates = at(&cvsh, "status.availableUpdates");
    assert_eq!(updates["x-kubernetes-list-type"], "atomic");
    assert_eq!(updates["maxItems"], 16);
    assert_eq!(at(&cvsh, "status.history")["x-kubernetes-list-type"], "atomic");

    let pdman = schema("productmanifests");
    assert_eq!(
        at(&pdman, "status.conditions")["x-kubernetes-list-map-keys"],
        json!(["type"])
    );
    assert_eq!(
        at(&pdman, "status.artifacts")["x-kubernetes-list-map-keys"],
        json!(["name"])
    );
}

#[test]
fn history_entries_require_image_state_and_start_time() {
    let history = at(&schema("clusterversionshadows"), "status.history.[]");
    let mut required: Vec<&str> = history["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(required, ["image", "startedTime", "state"]);
}

#[test]
fn our_additive_fields_are_optional() {
    let cvsh = schema("clusterversionshadows");
    let spec = at(&cvsh, "spec");
    assert!(
        spec["required"].is_null(),
        "spec must accept an ACP object unchanged: {}",
        spec["required"]
    );
    let status = at(&cvsh, "status");
    assert!(status["required"].is_null(), "{}", status["required"]);
    for path in [
        "status.observed.nodes.kubeletVersions",
        "status.observed.nodes.runtimes",
        "status.preflight.targetVersion",
    ] {
        at(&cvsh, path);
    }
    let key = at(&cvsh, "spec.kubeconfigSecretRef.key");
    assert_eq!(key["default"], "value");
    assert!(at(&schema("productmanifests"), "status.release.modules.[].dependsOn").is_object());
}

fn formats(node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(format)) = map.get("format") {
                out.push(format.clone());
            }
            map.values().for_each(|v| formats(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| formats(v, out)),
        _ => {}
    }
}

#[test]
fn no_format_the_api_server_warns_about() {
    for crd in all() {
        let mut found = Vec::new();
        formats(&serde_json::to_value(&crd).unwrap(), &mut found);
        for format in &found {
            assert!(
                RECOGNISED_FORMATS.contains(&format.as_str()),
                "{}: format {format}",
                file_name(&crd)
            );
            assert!(!format.starts_with("uint"), "{format}");
        }
    }
}

#[test]
fn unrecognised_formats_are_stripped_at_any_depth() {
    let mut schema: JSONSchemaProps = serde_json::from_value(json!({
        "type": "object",
        "properties": {
            "count": {"type": "integer", "format": "uint32", "minimum": 0},
            "list": {"type": "array", "items": {"type": "integer", "format": "uint64"}},
            "when": {"type": "string", "format": "date-time"},
            "gen": {"type": "integer", "format": "int64"},
        },
    }))
    .unwrap();
    tidy(&mut schema);
    let props = schema.properties.unwrap();
    assert_eq!(props["count"].format, None);
    assert_eq!(props["count"].minimum, Some(0.0));
    match &props["list"].items {
        Some(k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrArray::Schema(
            item,
        )) => assert_eq!(item.format, None),
        other => panic!("items: {other:?}"),
    }
    assert_eq!(props["when"].format.as_deref(), Some("date-time"));
    assert_eq!(props["gen"].format.as_deref(), Some("int64"));
}

#[test]
fn optional_enums_in_array_items_list_no_null_value() {
    let mut schema: JSONSchemaProps = serde_json::from_value(json!({
        "type": "string", "nullable": true, "enum": ["Always", "Once", null],
    }))
    .unwrap();
    tidy(&mut schema);
    assert_eq!(
        serde_json::to_value(&schema.enum_).unwrap(),
        json!(["Always", "Once"])
    );
    assert_eq!(schema.nullable, Some(true));
}

#[test]
fn yaml_reads_back_as_the_same_crd() {
    for crd in all() {
        let yaml = to_yaml(&crd).unwrap();
        assert!(yaml.starts_with("# Generated by crdgen"));
        let back: CustomResourceDefinition = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(back, crd, "{}", file_name(&crd));
    }
}

#[test]
fn file_names_follow_group_and_plural() {
    let names: Vec<String> = all().iter().map(file_name).collect();
    assert_eq!(
        names,
        [
            "config.alauda.io_clusterversionshadows.yaml",
            "config.alauda.io_productmanifests.yaml",
            "cvo.alauda.io_upgradestrategies.yaml",
            "cvo.alauda.io_upgraderuns.yaml",
            "cvo.alauda.io_maintenancewindows.yaml",
        ]
    );
}

/// `scripts/check-generated.sh` says the same; this makes `cargo test` catch a stale deploy/crds too.
#[test]
fn committed_crds_match_the_types() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds");
    for (name, yaml) in rendered().unwrap() {
        let committed = std::fs::read_to_string(dir.join(&name)).unwrap_or_default();
        assert!(
            committed == yaml,
            "deploy/crds/{name} is stale or missing: run `cargo run -p acp-api --bin crdgen` and commit the result"
        );
    }
}

#[test]
fn status_messages_and_lists_are_bounded_as_the_operator_clips_them() {
    use crate::cvsh::bounds::*;
    let cvsh = schema("clusterversionshadows");
    let strings = [
        ("status.conditions.[].message", MAX_MESSAGE_CHARS),
        ("status.preflight.checks.[].message", MAX_MESSAGE_CHARS),
        ("status.observed.message", MAX_MESSAGE_CHARS),
        ("status.history.[].acceptedRisks", MAX_MESSAGE_CHARS),
        (
            "status.stages.[].operations.[].message",
            MAX_OPERATION_MESSAGE_CHARS,
        ),
        ("status.observed.kubernetesVersion", MAX_SHORT_CHARS),
        ("status.observed.clusterIdentity", MAX_SHORT_CHARS),
        ("status.history.[].releaseDigest", MAX_SHORT_CHARS),
        ("status.history.[].clusterIdentity", MAX_SHORT_CHARS),
    ];
    for (path, max) in strings {
        assert_eq!(at(&cvsh, path)["maxLength"], json!(max), "{path}");
    }
    let lists = [
        ("status.conditions", MAX_CONDITIONS),
        ("status.preflight.checks", MAX_CHECKS),
        ("status.stages", MAX_STAGES),
        ("status.stages.[].operations", MAX_OPERATIONS),
        ("status.history", MAX_HISTORY),
        ("status.observed.nodes.kubeletVersions", MAX_NODE_VERSIONS),
        ("status.observed.nodes.runtimes", MAX_NODE_VERSIONS),
        ("status.availableUpdates", crate::cvsh::MAX_AVAILABLE_UPDATES),
    ];
    for (path, max) in lists {
        assert_eq!(at(&cvsh, path)["maxItems"], json!(max), "{path}");
    }
    // The history bound is the policy's pruning bound: a pruned history always fits.
    assert_eq!(MAX_HISTORY, acp_policy::MAX_HISTORY);
}

#[test]
fn the_tier_is_immutable_and_global_only_on_the_object_named_global() {
    let root = schema("clusterversionshadows");
    let rules = rules(&root);
    assert!(
        rules
            .iter()
            .any(|(rule, message)| rule.contains("self.metadata.name == 'global'")
                && !rule.contains("oldSelf")
                && message.contains("reserved for the ClusterVersionShadow named global")),
        "{rules:?}"
    );
    assert!(
        rules
            .iter()
            .any(|(rule, message)| rule.contains("oldSelf.spec.tier") && message.contains("immutable")),
        "{rules:?}"
    );
}
