use super::*;
use acp_api::cvsh::{CheckState, DesiredUpdate, Preflight, PreflightCheck, Release};
use acp_api::{ClusterVersionShadowSpec, ClusterVersionShadowStatus};

fn check(name: &str, state: CheckState, message: &str) -> PreflightCheck {
    PreflightCheck {
        name: name.into(),
        policy: None,
        state,
        reason: None,
        message: Some(message.into()),
    }
}

/// A cluster at `current`, asked for `request`, with preflight results for it.
fn cvsh(
    name: &str,
    current: &str,
    request: Option<&str>,
    checks: Vec<PreflightCheck>,
) -> ClusterVersionShadow {
    let mut cvsh = ClusterVersionShadow::new(
        name,
        ClusterVersionShadowSpec {
            desired_update: request.map(|v| DesiredUpdate {
                version: Some(v.into()),
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    cvsh.status = Some(ClusterVersionShadowStatus {
        current: Some(Release::version(current)),
        available_updates: vec![Release::version("4.3.1")],
        preflight: Some(Preflight {
            target_version: Some("4.3.1".into()),
            checks,
            ..Default::default()
        }),
        ..Default::default()
    });
    cvsh
}

fn blocked(message: &str) -> ClusterVersionShadow {
    cvsh(
        "edge-1",
        "4.1.5",
        Some("4.3.1"),
        vec![
            check("VersionUpgradePath", CheckState::Passed, "ok"),
            check("GlobalTierReached", CheckState::Failed, message),
            check("KubernetesVersionSupported", CheckState::Failed, "too old"),
        ],
    )
}

#[test]
fn a_blocked_cluster_reads_blocked_with_its_first_failed_check() {
    let row = FleetRow::of(&blocked("global runs 4.3.0"), Timestamp::UNIX_EPOCH);
    assert_eq!(row.state, "Blocked");
    assert_eq!((row.current.as_str(), row.desired.as_str()), ("4.1.5", "4.3.1"));
    assert_eq!(
        row.blocker,
        Some(("GlobalTierReached".to_owned(), "global runs 4.3.0".to_owned()))
    );
    let idle = FleetRow::of(&cvsh("a", "4.3.0", None, vec![]), Timestamp::UNIX_EPOCH);
    assert_eq!(
        (idle.state, idle.desired.as_str(), idle.blocker),
        ("Idle", "", None)
    );
}

#[test]
fn each_available_update_says_whether_it_could_start() {
    let table = [
        (vec![check("A", CheckState::Passed, "ok")], "could start now"),
        (vec![check("A", CheckState::Failed, "no")], "blocked by A: no"),
        (
            vec![check("A", CheckState::Retry, "asking")],
            "waiting for A: asking",
        ),
        (vec![], "no preflight result yet"),
    ];
    for (checks, expected) in table {
        let cvsh = cvsh("a", "4.3.0", None, checks);
        assert_eq!(verdict(&cvsh.status_or_default(), "4.3.1"), expected);
    }
    let other = cvsh("a", "4.3.0", None, vec![check("A", CheckState::Passed, "ok")]);
    assert_eq!(
        verdict(&other.status_or_default(), "4.3.2"),
        "no preflight result yet"
    );
}

#[test]
fn the_query_filters_and_sorts_rows() {
    let rows: Vec<FleetRow> = [
        cvsh("c", "4.2.0", None, vec![]),
        cvsh("a", "4.10.0", None, vec![]),
        blocked("m"),
    ]
    .iter()
    .map(|c| FleetRow::of(c, Timestamp::UNIX_EPOCH))
    .collect();
    let names = |q: FleetQuery| {
        q.apply(rows.clone())
            .into_iter()
            .map(|r| r.name)
            .collect::<Vec<_>>()
    };
    let q = |state: &str, version: &str, sort: &str| FleetQuery {
        state: Some(state.into()),
        label: None,
        version: Some(version.into()),
        sort: Some(sort.into()),
    };
    assert_eq!(names(FleetQuery::default()), ["a", "c", "edge-1"]);
    assert_eq!(names(q("", "", "current")), ["edge-1", "c", "a"]);
    assert_eq!(names(q("blocked", "", "")), ["edge-1"]);
    assert_eq!(names(q("", "4.3.1", "")), ["edge-1"]);
    assert_eq!(counts(&rows).get("Idle"), Some(&2));
}

#[test]
fn names_and_messages_from_the_api_server_are_text_never_markup() {
    let hostile = blocked("<script>alert(1)</script>\"'&");
    let row = fleet_row(&FleetRow::of(&hostile, Timestamp::UNIX_EPOCH)).into_string();
    assert!(!row.contains("<script>"), "{row}");
    assert!(
        row.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;"),
        "{row}"
    );
    let page = cluster_live(&hostile, Timestamp::UNIX_EPOCH, &[]).into_string();
    assert!(!page.contains("<script>"), "{page}");
}

#[test]
fn a_view_only_user_sees_the_request_disabled_and_why() {
    let cvsh = cvsh(
        "global",
        "4.3.0",
        None,
        vec![check("A", CheckState::Passed, "ok")],
    );
    let why = "You may not request an upgrade of cluster global (RBAC: needs patch on clusterversionshadows in cpaas-system)";
    let choice = RequestChoice::default();
    let form = RequestForm {
        cluster: &cvsh,
        denied: Some(why),
        csrf: "token",
        choice: &choice,
        review: None,
    };
    let html = request_form(&form).into_string();
    assert!(
        html.contains(r#"<button type="submit" name="action" value="review" disabled>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"data-field="rbac""#) && html.contains("needs patch on clusterversionshadows"),
        "{html}"
    );
    assert!(
        html.contains(r#"<input type="hidden" name="csrf" value="token">"#),
        "{html}"
    );
    assert!(html.contains(r#"<option value="4.3.1">"#), "{html}");
}

#[test]
fn the_review_shows_the_verdict_inside_the_form_before_confirming() {
    let cvsh = cvsh(
        "global",
        "4.3.0",
        None,
        vec![check("A", CheckState::Passed, "ok")],
    );
    let choice = RequestChoice {
        version: "4.3.1".into(),
        ..Default::default()
    };
    let form = RequestForm {
        cluster: &cvsh,
        denied: None,
        csrf: "token",
        choice: &choice,
        review: Some(Ok(vec![])),
    };
    let html = request_form(&form).into_string();
    let inside = &html[html.find(r#"<form id="request-upgrade""#).unwrap()..];
    let verdict = &inside[inside.find(r#"data-field="verdict""#).unwrap()..];
    assert!(verdict.contains("could start now"), "{html}");
    assert!(inside.contains(r#"value="confirm""#), "{html}");
    let unreviewed = RequestForm { review: None, ..form };
    assert!(
        !request_form(&unreviewed)
            .into_string()
            .contains(r#"value="confirm""#)
    );
}

#[test]
fn the_newest_history_entry_is_the_first_row_of_the_history_body() {
    use acp_api::cvsh::{HistoryEntry, HistoryState};
    let mut cvsh = cvsh("global", "4.3.1", None, vec![]);
    let entry = |v: &str| HistoryEntry {
        version: Some(v.into()),
        image: String::new(),
        state: HistoryState::Completed,
        started_time: acp_api::k8s::Time(Timestamp::UNIX_EPOCH),
        completion_time: None,
        accepted_risks: None,
        release_digest: None,
        cluster_identity: None,
    };
    cvsh.status.as_mut().unwrap().history = vec![entry("4.3.1"), entry("4.3.0")];
    let html = cluster_live(&cvsh, Timestamp::UNIX_EPOCH, &[]).into_string();
    let body = &html[html
        .find(r#"<tbody data-field="history"><tr><td>4.3.1</td><td>Completed"#)
        .unwrap()..];
    assert!(body.contains("4.3.0"), "{html}");
}

#[test]
fn a_waiting_operation_shows_its_culprits_as_text_with_what_to_do() {
    use acp_api::cvsh::{
        Insight, InsightScope, Operation, OperationAction, OperationPhase, Stage, StagePhase,
    };
    let mut cvsh = cvsh("edge-1", "4.3.0", Some("4.3.1"), vec![]);
    cvsh.status.as_mut().unwrap().stages = vec![Stage {
        name: "Core".into(),
        priority: 30,
        phase: StagePhase::Running,
        operations: vec![Operation {
            phase: Some(OperationPhase::Running),
            insights: vec![Insight {
                scope: InsightScope::Workload,
                object: "Pod cpaas-system/api-1".into(),
                reason: "CrashLoopBackOff".into(),
                message: "container <b>api</b> keeps crashing".into(),
                action: "read its logs".into(),
            }],
            ..Operation::pending("platform-api", OperationAction::Upgrade)
        }],
    }];
    let html = cluster_live(&cvsh, Timestamp::UNIX_EPOCH, &[]).into_string();
    assert!(
        html.contains(r#"<li data-insight="CrashLoopBackOff"><strong>Pod cpaas-system/api-1</strong> (CrashLoopBackOff): container &lt;b&gt;api&lt;/b&gt; keeps crashing<br>What to do: read its logs</li>"#),
        "{html}"
    );
}

#[test]
fn an_update_that_is_not_recommended_shows_its_risks_and_links_only_to_https() {
    use acp_api::risks::{ConditionalUpdate, ConditionalUpdateRisk, RiskExposure};
    let mut cvsh = cvsh("edge-1", "4.3.0", None, vec![]);
    let risk = |name: &str, url: &str| ConditionalUpdateRisk {
        name: name.into(),
        exposure: RiskExposure::Applies,
        evidence: "ConfigMap kube-system/custom-cni-config is present".into(),
        message: "<b>migrate</b> first".into(),
        url: Some(url.into()),
    };
    cvsh.status.as_mut().unwrap().conditional_updates = vec![ConditionalUpdate {
        release: Release::version("4.3.1"),
        recommended: false,
        risks: vec![
            risk("CustomCNIRemoved", "https://docs.example/cni"),
            risk("Other", "javascript:alert(1)"),
        ],
    }];
    let choice = RequestChoice {
        accept: "CustomCNIRemoved, Other ,".into(),
        ..RequestChoice::default()
    };
    assert_eq!(choice.accepted(), ["CustomCNIRemoved", "Other"]);
    let form = RequestForm {
        cluster: &cvsh,
        denied: None,
        csrf: "token",
        choice: &choice,
        review: None,
    };
    let html = request_form(&form).into_string();
    assert!(
        html.contains("4.3.1 (not recommended: CustomCNIRemoved, Other)"),
        "{html}"
    );
    assert!(
        html.contains(r#"<a href="https://docs.example/cni" rel="noreferrer">"#),
        "{html}"
    );
    assert!(!html.contains("javascript:"), "{html}");
    assert!(html.contains("&lt;b&gt;migrate&lt;/b&gt; first"), "{html}");
    assert!(html.contains(r#"name="allow_not_recommended""#), "{html}");
}
