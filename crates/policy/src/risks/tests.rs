use super::rules::{self, NodeInfoFact, ObjectLookup};
use super::*;
use crate::{AcpVersion, Catalogue, KubeVersion};

fn v(s: &str) -> AcpVersion {
    s.parse().unwrap()
}

fn risk(yaml: &str) -> Risk {
    serde_saphyr::from_str(yaml).unwrap()
}

const FLANNEL: &str = r#"
name: FlannelRemoved
message: migrate to Kube-OVN before upgrading
appliesFrom: ["<4.2.0"]
matchingRules:
  - type: ObjectPresent
    objectPresent: {apiVersion: apps/v1, kind: DaemonSet, namespace: kube-system, name: kube-flannel-ds}
  - type: Always
"#;

fn matched(fact: &RuleFact) -> Option<bool> {
    match fact {
        RuleFact::Evaluated { matches, .. } => Some(*matches),
        RuleFact::Unevaluable { .. } => None,
    }
}

fn text(fact: &RuleFact) -> &str {
    match fact {
        RuleFact::Evaluated { evidence, .. } => evidence,
        RuleFact::Unevaluable { why } => why,
    }
}

#[test]
fn the_first_rule_that_can_be_evaluated_decides() {
    let risk = risk(FLANNEL);
    let found = RuleFact::matched("DaemonSet kube-system/kube-flannel-ds is present");
    let absent = RuleFact::not_matched("no DaemonSet kube-system/kube-flannel-ds in the cluster");
    let forbidden = RuleFact::unevaluable("forbidden");
    let always = RuleFact::matched("every cluster");
    // (current, facts, exposure, evidence contains)
    let table: [(Option<&str>, Vec<RuleFact>, &str, &str); 8] = [
        (
            Some("4.1.5"),
            vec![found.clone(), always.clone()],
            "Applies",
            "kube-flannel-ds is present",
        ),
        (
            Some("4.1.5"),
            vec![absent.clone(), always.clone()],
            "DoesNotApply",
            "no DaemonSet",
        ),
        // The first rule cannot be evaluated: the next one decides.
        (
            Some("4.1.5"),
            vec![forbidden.clone(), always.clone()],
            "Applies",
            "every cluster",
        ),
        (
            Some("4.1.5"),
            vec![forbidden.clone(), RuleFact::unevaluable("unreachable")],
            "Unknown",
            "forbidden; unreachable",
        ),
        (Some("4.1.5"), vec![], "Unknown", "no matching rule was evaluated"),
        // Outside appliesFrom nothing is asked of the rules.
        (
            Some("4.2.3"),
            vec![found.clone()],
            "DoesNotApply",
            "upgrading from 4.2.3",
        ),
        (None, vec![found.clone()], "Unknown", "current version is unknown"),
        (Some("4.0.9"), vec![found.clone()], "Applies", "kube-flannel-ds"),
    ];
    for (current, facts, want, evidence) in table {
        let current = current.map(v);
        let got = exposure(&risk, current.as_ref(), &facts);
        assert_eq!(got.as_str(), want, "{current:?} {facts:?}: {got:?}");
        assert!(got.evidence().contains(evidence), "{got:?}");
        assert_eq!(got.is_exposed(), want != "DoesNotApply");
    }
}

#[test]
fn a_risk_without_applies_from_applies_from_every_version() {
    let mut risk = risk(FLANNEL);
    risk.applies_from.clear();
    let got = exposure(&risk, None, &[RuleFact::matched("x")]);
    assert_eq!(got.as_str(), "Applies");
    assert_eq!(risk.applies_from_text(), "any version");
}

#[test]
fn object_present_rules() {
    let rule = ObjectPresent {
        api_version: "apps/v1".into(),
        kind: "DaemonSet".into(),
        namespace: Some("kube-system".into()),
        name: Some("kube-flannel-ds".into()),
        label_selector: None,
    };
    // (lookup, matches, evidence contains)
    let table = [
        (
            ObjectLookup::Found(vec!["kube-system/kube-flannel-ds".into()]),
            Some(true),
            "DaemonSet kube-system/kube-flannel-ds is present",
        ),
        (
            ObjectLookup::Found(vec![]),
            Some(false),
            "no DaemonSet kube-system/kube-flannel-ds",
        ),
        (
            ObjectLookup::KindNotServed,
            Some(false),
            "serves no apps/v1 DaemonSet",
        ),
        (
            ObjectLookup::Failed("HTTP 403 forbidden".into()),
            None,
            "cannot look up DaemonSet kube-system/kube-flannel-ds: HTTP 403",
        ),
    ];
    for (lookup, want, evidence) in table {
        let fact = rules::object_present(&rule, &lookup);
        assert_eq!(matched(&fact), want, "{lookup:?}: {fact:?}");
        assert!(text(&fact).contains(evidence), "{fact:?}");
    }
    let by_label = ObjectPresent {
        name: None,
        label_selector: Some("app=flannel".into()),
        ..rule
    };
    assert_eq!(
        by_label.describe(),
        "DaemonSet with labels app=flannel in kube-system"
    );
}

fn node(name: &str, runtime: &str, kubelet: &str, os: &str) -> NodeInfoFact {
    NodeInfoFact {
        name: name.into(),
        container_runtime_version: runtime.into(),
        kubelet_version: kubelet.into(),
        os_image: os.into(),
    }
}

#[test]
fn node_info_rules() {
    let nodes = [
        node("cp-1", "containerd://2.0.1", "v1.33.7", "Ubuntu 22.04.4 LTS"),
        node(
            "worker-1",
            "containerd://1.7",
            "v1.32.11",
            "Kylin Linux Advanced Server V10",
        ),
    ];
    let rule = |field, pattern: Option<&str>, range: Option<&str>| NodeInfo {
        field,
        pattern: pattern.map(Into::into),
        range: range.map(|r| r.parse().unwrap()),
    };
    use NodeField::*;
    // (rule, nodes, matches, evidence contains)
    type Row<'a> = (
        NodeInfo,
        Result<&'a [NodeInfoFact], &'a str>,
        Option<bool>,
        &'a str,
    );
    let table: [Row; 9] = [
        (
            rule(ContainerRuntimeVersion, Some("containerd://1.*"), None),
            Ok(&nodes),
            Some(true),
            "node worker-1 reports containerRuntimeVersion containerd://1.7",
        ),
        (
            rule(ContainerRuntimeVersion, Some("containerd://1.*"), None),
            Ok(&nodes[..1]),
            Some(false),
            "none of 1 node(s) has containerRuntimeVersion matching containerd://1.* (seen: \"containerd://2.0.1\")",
        ),
        (
            rule(ContainerRuntimeVersion, None, Some("<2.0.0")),
            Ok(&nodes),
            Some(true),
            "worker-1",
        ),
        (
            rule(KubeletVersion, None, Some("<1.33.0")),
            Ok(&nodes),
            Some(true),
            "node worker-1 reports kubeletVersion v1.32.11",
        ),
        (
            rule(KubeletVersion, None, Some(">=1.34.0")),
            Ok(&nodes),
            Some(false),
            "none of 2 node(s)",
        ),
        (
            rule(OsImage, Some("Kylin*"), None),
            Ok(&nodes),
            Some(true),
            "Kylin Linux",
        ),
        (
            rule(OsImage, Some("CentOS*"), None),
            Ok(&nodes),
            Some(false),
            "CentOS",
        ),
        (rule(OsImage, Some("*"), None), Ok(&[]), Some(false), "no nodes"),
        (
            rule(ContainerRuntimeVersion, Some("containerd://1.*"), None),
            Err("cluster edge is unreachable"),
            None,
            "cannot read the nodes: cluster edge is unreachable",
        ),
    ];
    for (rule, nodes, want, evidence) in table {
        let fact = rules::node_info(&rule, nodes);
        assert_eq!(matched(&fact), want, "{rule:?}: {fact:?}");
        assert!(text(&fact).contains(evidence), "{fact:?}");
    }
}

#[test]
fn kubernetes_version_rules() {
    let rule = KubernetesVersion {
        range: "<1.32.0".parse().unwrap(),
    };
    let table = [
        (
            Ok(KubeVersion::new(1, 31, 14)),
            Some(true),
            "runs v1.31.14, in <1.32.0",
        ),
        (
            Ok(KubeVersion::new(1, 33, 7)),
            Some(false),
            "runs v1.33.7, outside <1.32.0",
        ),
        (Err("unreachable"), None, "version is unknown: unreachable"),
    ];
    for (version, want, evidence) in table {
        let fact = rules::kubernetes_version(&rule, version);
        assert_eq!(matched(&fact), want, "{fact:?}");
        assert!(text(&fact).contains(evidence), "{fact:?}");
    }
}

const METRICS: &str = r#"# HELP apiserver_requested_deprecated_apis [STABLE] Gauge of deprecated APIs
# TYPE apiserver_requested_deprecated_apis gauge
apiserver_requested_deprecated_apis{group="flowcontrol.apiserver.k8s.io",removed_release="1.32",resource="flowschemas",subresource="",version="v1beta3"} 1
apiserver_requested_deprecated_apis{group="",removed_release="",resource="componentstatuses",subresource="",version="v1"} 1
apiserver_storage_objects{resource="pods"} 1500
apiserver_storage_objects{resource="secrets"} 20 1700000000000
process_open_fds 12
"#;

#[test]
fn metric_rules() {
    let rule = |name: &str, labels: &[(&str, &str)], comparison, value| Metric {
        name: name.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        comparison,
        value,
    };
    use Comparison::*;
    // (rule, metrics, matches, evidence contains)
    type Row<'a> = (Metric, Result<&'a str, &'a str>, Option<bool>, &'a str);
    let table: [Row; 9] = [
        (
            rule(
                "apiserver_requested_deprecated_apis",
                &[("removed_release", "1.32")],
                GreaterThan,
                0.0,
            ),
            Ok(METRICS),
            Some(true),
            "resource=\"flowschemas\"",
        ),
        (
            rule(
                "apiserver_requested_deprecated_apis",
                &[("removed_release", "1.33")],
                GreaterThan,
                0.0,
            ),
            Ok(METRICS),
            Some(false),
            "reports no sample of apiserver_requested_deprecated_apis{removed_release=\"1.33\"}",
        ),
        (
            rule(
                "apiserver_storage_objects",
                &[("resource", "pods")],
                GreaterOrEqual,
                1000.0,
            ),
            Ok(METRICS),
            Some(true),
            "is 1500",
        ),
        (
            rule(
                "apiserver_storage_objects",
                &[("resource", "pods")],
                LessThan,
                1000.0,
            ),
            Ok(METRICS),
            Some(false),
            "is 1500, and no sample has",
        ),
        // A timestamp after the value is not the value.
        (
            rule(
                "apiserver_storage_objects",
                &[("resource", "secrets")],
                Equal,
                20.0,
            ),
            Ok(METRICS),
            Some(true),
            "is 20",
        ),
        (
            rule("process_open_fds", &[], LessOrEqual, 12.0),
            Ok(METRICS),
            Some(true),
            "process_open_fds is 12",
        ),
        (
            rule("process_open_fds", &[], NotEqual, 12.0),
            Ok(METRICS),
            Some(false),
            "is 12",
        ),
        // A prefix of another metric's name is not that metric.
        (
            rule("process_open", &[], GreaterThan, 0.0),
            Ok(METRICS),
            Some(false),
            "no sample",
        ),
        (
            rule("process_open_fds", &[], GreaterThan, 0.0),
            Err("HTTP 403"),
            None,
            "cannot read the API server's /metrics: HTTP 403",
        ),
    ];
    for (rule, metrics, want, evidence) in table {
        let fact = rules::metric(&rule, metrics);
        assert_eq!(matched(&fact), want, "{rule:?}: {fact:?}");
        assert!(text(&fact).contains(evidence), "{fact:?}");
    }
    assert!(Comparison::ALL.iter().all(|c| !c.symbol().is_empty()));
}

#[test]
fn globs_and_loose_versions() {
    for (pattern, text, want) in [
        ("containerd://1.*", "containerd://1.7.27", true),
        ("containerd://1.*", "containerd://2.0.1", false),
        ("containerd://1.*", "containerd://10.0", false),
        ("*", "", true),
        ("a?c", "abc", true),
        ("a?c", "ac", false),
        ("*ubuntu*", "Ubuntu", false),
        ("docker://*", "docker://24.0.7", true),
    ] {
        assert_eq!(rules::glob(pattern, text), want, "{pattern} {text}");
    }
    for (value, want) in [
        ("containerd://1.7", Some("1.7.0")),
        ("containerd://1.7.27-k3s1", Some("1.7.27")),
        ("v1.33.7", Some("1.33.7")),
        ("cri-o://1.30.4", Some("1.30.4")),
        ("Ubuntu 22.04", None),
    ] {
        assert_eq!(
            rules::loose_version(value).map(|v| v.to_string()).as_deref(),
            want,
            "{value}"
        );
    }
}

#[test]
fn every_rule_type_reads_from_yaml_as_a_tagged_union() {
    let risk = risk(
        r#"
name: Everything
message: accept only after reading the notes
url: https://example.com/notes
matchingRules:
  - type: Always
  - type: ObjectPresent
    objectPresent: {apiVersion: v1, kind: ConfigMap, labelSelector: "app=x"}
  - type: NodeInfo
    nodeInfo: {field: osImage, pattern: "CentOS*"}
  - type: KubernetesVersion
    kubernetesVersion: {range: "<1.32.0"}
  - type: Metric
    metric: {name: apiserver_requested_deprecated_apis, labels: {removed_release: "1.32"}, comparison: GreaterThan, value: 0}
"#,
    );
    let types: Vec<&str> = risk.matching_rules.iter().map(MatchingRule::type_name).collect();
    assert_eq!(
        types,
        [
            "Always",
            "ObjectPresent",
            "NodeInfo",
            "KubernetesVersion",
            "Metric"
        ]
    );
    assert_eq!(validate(std::slice::from_ref(&risk)), Ok(()));
    let json = serde_json::to_value(&risk).unwrap();
    assert_eq!(
        json["matchingRules"][1]["objectPresent"]["labelSelector"],
        "app=x"
    );
    assert_eq!(json["matchingRules"][4]["type"], "Metric");
    let back: Risk = serde_json::from_value(json).unwrap();
    assert_eq!(back, risk);
}

#[test]
fn risks_out_of_bounds_are_refused_naming_the_field() {
    let ok = risk(FLANNEL);
    let with = |change: &dyn Fn(&mut Risk)| {
        let mut r = ok.clone();
        change(&mut r);
        validate(&[r]).unwrap_err()
    };
    let table: [(String, &str); 9] = [
        (with(&|r| r.name = "has space".into()), "risks[0].name"),
        (with(&|r| r.name = "x".repeat(64)), "risks[0].name"),
        (with(&|r| r.message = " ".into()), "message must say what to do"),
        (
            with(&|r| r.message = "m".repeat(MAX_MESSAGE_CHARS + 1)),
            "message",
        ),
        (
            with(&|r| r.url = Some("http://insecure".into())),
            "url must be an https://",
        ),
        (with(&|r| r.matching_rules.clear()), "needs 1–8 rules"),
        (
            with(&|r| {
                if let MatchingRule::ObjectPresent { object_present } = &mut r.matching_rules[0] {
                    object_present.label_selector = Some("app=x".into());
                }
            }),
            "matchingRules[0]: set exactly one of objectPresent.name and objectPresent.labelSelector",
        ),
        (
            with(&|r| r.matching_rules = vec![MatchingRule::Always; MAX_RULES + 1]),
            "matchingRules",
        ),
        (
            validate(&[ok.clone(), ok.clone()]).unwrap_err(),
            "risks[1].name FlannelRemoved is declared twice",
        ),
    ];
    for (problem, want) in table {
        assert!(problem.contains(want), "{problem} (wanted {want})");
    }
    assert!(validate(&vec![ok.clone(); MAX_RISKS + 1]).is_err());
    let bad_node = MatchingRule::NodeInfo {
        node_info: NodeInfo {
            field: NodeField::OsImage,
            pattern: None,
            range: None,
        },
    };
    assert!(with(&|r| r.matching_rules = vec![bad_node.clone()]).contains("nodeInfo.pattern"));
    let bad_metric = MatchingRule::Metric {
        metric: Metric {
            name: "m".into(),
            labels: Default::default(),
            comparison: Comparison::Equal,
            value: f64::NAN,
        },
    };
    assert!(with(&|r| r.matching_rules = vec![bad_metric.clone()]).contains("finite"));
}

#[test]
fn the_builtin_catalogue_carries_the_release_notes_risks() {
    let c = Catalogue::builtin();
    let names = |version: &str| -> Vec<String> {
        c.release(&v(version))
            .unwrap()
            .risks
            .iter()
            .map(|r| r.name.clone())
            .collect()
    };
    assert!(names("4.1.5").is_empty());
    for patch in 0..=5 {
        assert_eq!(names(&format!("4.2.{patch}")), ["FlannelRemoved"]);
    }
    for version in ["4.3.0", "4.3.1"] {
        assert_eq!(names(version), ["FlannelRemoved", "Containerd2Baseline"]);
    }
    let release = c.release(&v("4.3.1")).unwrap();
    let flannel = &release.risks[0];
    assert!(flannel.message.contains("Kube-OVN"), "{}", flannel.message);
    assert!(flannel.applies_from_version(&v("4.1.5")));
    assert!(!flannel.applies_from_version(&v("4.2.0")));
    let containerd = &release.risks[1];
    assert!(containerd.applies_from_version(&v("4.2.3")));
    // A node on containerd 1.7 exposes a 4.2 cluster to the 4.3 containerd risk.
    let MatchingRule::NodeInfo { node_info } = &containerd.matching_rules[0] else {
        panic!("{containerd:?}");
    };
    let nodes = [node("n1", "containerd://1.7", "v1.33.7", "")];
    let fact = rules::node_info(node_info, Ok(&nodes));
    assert_eq!(
        exposure(containerd, Some(&v("4.2.3")), &[fact]).as_str(),
        "Applies"
    );
}

#[test]
fn an_exposed_risk_holds_until_accepted_by_name() {
    let flannel = risk(FLANNEL);
    let containerd = risk(
        "name: Containerd2Baseline\nmessage: review containerd configuration.\nurl: https://docs.example/c2\n\
         matchingRules: [{type: Always}]\n",
    );
    let applies = Exposure::Applies {
        evidence: "DaemonSet kube-system/kube-flannel-ds is present".into(),
    };
    let not = Exposure::DoesNotApply {
        evidence: "no DaemonSet kube-system/kube-flannel-ds in the cluster".into(),
    };
    let unknown = Exposure::Unknown {
        why: "no rule could be evaluated: the inventory gives no `nodes`".into(),
    };
    let accept = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    // (flannel, containerd, accepted, held, message contains)
    let table = [
        (&not, &not, accept(&[]), false, ""),
        (
            &applies,
            &not,
            accept(&[]),
            true,
            "FlannelRemoved (Applies: DaemonSet kube-system/kube-flannel-ds is present): migrate to Kube-OVN before upgrading. Do what each says",
        ),
        (&applies, &not, accept(&["FlannelRemoved"]), false, ""),
        // Unknown counts as applying; the URL and the message are named, without a doubled full stop.
        (
            &not,
            &unknown,
            accept(&["FlannelRemoved"]),
            true,
            "Containerd2Baseline (Unknown: no rule could be evaluated: the inventory gives no `nodes`): review containerd configuration (https://docs.example/c2). Do",
        ),
        (
            &applies,
            &unknown,
            accept(&[]),
            true,
            "`--accept FlannelRemoved,Containerd2Baseline`",
        ),
        (
            &applies,
            &unknown,
            accept(&["Containerd2Baseline"]),
            true,
            "`acceptRisks: [FlannelRemoved]` for `edge-1` in the inventory",
        ),
        (
            &applies,
            &unknown,
            accept(&["Containerd2Baseline", "FlannelRemoved"]),
            false,
            "",
        ),
        // Accepting a risk that does not apply changes nothing.
        (&not, &not, accept(&["FlannelRemoved"]), false, ""),
    ];
    for (f, c, accepted, held, contains) in table {
        let got = unaccepted(
            "edge-1",
            &v("4.3.1"),
            &[(&flannel, f), (&containerd, c)],
            &accepted,
        );
        assert_eq!(got.is_some(), held, "{f:?} {c:?} {accepted:?}: {got:?}");
        if let Some(verdict) = got {
            assert!(verdict.is_refused());
            assert_eq!(verdict.reason(), crate::Reason::RisksNotAccepted);
            assert!(verdict.message().contains(contains), "{}", verdict.message());
        }
    }
}
