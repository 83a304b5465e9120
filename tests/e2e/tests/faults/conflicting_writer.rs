//! A person editing the cvsh while the operator writes its status: each time the watch delivers a status
//! of the running upgrade that moved it on, the person server-side applies spec fields and an annotation of their own. The
//! upgrade completes once, and everything the person set is still theirs and still set.

use acp_api::cvsh::HistoryState;
use acp_api::names;
use acp_e2e::operator::*;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use super::record::{self, Recorder, Seen};
use super::{assert_no_violations, completed, finish_and_check, progress};

const FROM: &str = "4.2.3";
const TARGET: &str = "4.3.1";
const PERSON: &str = "a-person";
const NOTE: &str = "example.com/note";
/// At most this many edits, one per step of the upgrade.
const EDITS: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_editing_the_spec_mid_upgrade_keeps_every_field() {
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");
    let operator = operate_global(&env, FROM, TARGET).await;
    let recorder = Recorder::start(global, "global", global).await;
    let before = record::modules(global).await;
    let api = shadows(global).await;

    request(global, "global", TARGET).await;
    let mut cursor = 0;
    let mut edits = 0;
    let mut step = 0;
    while edits < EDITS {
        // The operator's next step, not the echo of the person's own edit.
        let (index, _) = recorder
            .wait("the next step of the running upgrade", cursor, LONG, |s| {
                matches!(s, Seen::Status(s) if completed(s, TARGET)
                    || (s.history.first().is_some_and(|h| h.state == HistoryState::Partial)
                        && progress(s) > step))
            })
            .await;
        step = progress(&recorder.last_status());
        cursor = index + 1;
        if completed(&recorder.last_status(), TARGET) {
            break;
        }
        edits += 1;
        let body = json!({
            "apiVersion": names::API_VERSION, "kind": "ClusterVersionShadow",
            "metadata": {"name": "global", "namespace": names::NAMESPACE,
                         "annotations": {NOTE: format!("edit {edits}")}},
            "spec": {"paused": false, "provisioning": "PlatformManaged"},
        });
        // Not forced: a field someone else owns would be a conflict, and fail the test.
        api.patch("global", &PatchParams::apply(PERSON), &Patch::Apply(&body))
            .await
            .unwrap();
    }

    let violations = finish_and_check(&recorder, global, FROM, TARGET, &before).await;
    let shadow = api.get("global").await.unwrap();
    println!(
        "faults: conflicting_writer: {edits} spec edits by a person during the upgrade, 1 upgrade \
         completed, {} invariant violations",
        violations.len()
    );
    assert_no_violations(&violations, &operator);
    assert!(edits >= 2, "the person edited {edits} times");
    assert_eq!(shadow.spec.paused, Some(false));
    assert_eq!(
        shadow.spec.provisioning,
        Some(acp_api::cvsh::Provisioning::PlatformManaged)
    );
    assert_eq!(
        shadow.metadata.annotations.as_ref().and_then(|a| a.get(NOTE)),
        Some(&format!("edit {edits}"))
    );
    let managed = shadow.metadata.managed_fields.clone().unwrap_or_default();
    let owners: Vec<String> = managed
        .iter()
        .filter(|m| {
            m.fields_v1
                .as_ref()
                .is_some_and(|f| f.0.pointer("/f:spec/f:paused").is_some())
        })
        .filter_map(|m| m.manager.clone())
        .collect();
    assert_eq!(owners, [PERSON], "spec.paused belongs to the person alone");
}
