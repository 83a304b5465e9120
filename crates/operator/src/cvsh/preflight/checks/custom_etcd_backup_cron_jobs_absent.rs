//! CustomEtcdBackupCronJobsAbsent: no CronJob other than the platform's `etcd-backup-default` backs up
//! etcd (a custom one snapshots mid-upgrade and may restore a half-upgraded state).

use super::name_list;
use crate::cvsh::preflight::sources::{CronJobFact, PlatformSource};
use crate::cvsh::preflight::{Context, Outcome, Sources};

pub const NAME: &str = acp_api::checks::CUSTOM_ETCD_BACKUP_CRON_JOBS_ABSENT;

/// The platform's own etcd backup job.
pub const DEFAULT_BACKUP_JOB: &str = "etcd-backup-default";

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    match cx.cluster.cron_jobs().await {
        Ok(jobs) => decide(&jobs),
        Err(err) => Outcome::unanswered(&err),
    }
}

/// A CronJob backs up etcd when its name says so or it runs `etcdctl snapshot`.
fn backs_up_etcd(job: &CronJobFact) -> bool {
    let name = job.name.to_ascii_lowercase();
    let by_name = name.contains("etcd") && (name.contains("backup") || name.contains("snapshot"));
    let by_command = job
        .commands
        .iter()
        .any(|c| c.contains("etcdctl") && c.contains("snapshot"));
    by_name || by_command
}

pub fn decide(jobs: &[CronJobFact]) -> Outcome {
    let custom: Vec<String> = jobs
        .iter()
        .filter(|j| !j.suspended && j.name != DEFAULT_BACKUP_JOB && backs_up_etcd(j))
        .map(|j| format!("`{}/{}`", j.namespace, j.name))
        .collect();
    if custom.is_empty() {
        return Outcome::passed(
            "NoCustomEtcdBackups",
            "no CronJob other than etcd-backup-default backs up etcd",
        );
    }
    Outcome::failed(
        "CustomEtcdBackupCronJobs",
        format!(
            "CronJob {} backs up etcd besides {DEFAULT_BACKUP_JOB}: suspend it for the upgrade \
             (`kubectl patch cronjob <name> -n <namespace> -p '{{\"spec\":{{\"suspend\":true}}}}'`) and resume it \
             afterwards",
            name_list(&custom)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_api::cvsh::CheckState;

    fn job(name: &str, command: &str) -> CronJobFact {
        CronJobFact {
            namespace: "kube-system".into(),
            name: name.into(),
            commands: vec![command.into()],
            suspended: false,
        }
    }

    #[test]
    fn custom_etcd_backups_are_found_by_name_or_command() {
        let table = [
            (
                vec![job("etcd-backup-default", "etcdctl snapshot save /b")],
                CheckState::Passed,
            ),
            (vec![job("nightly-etcd-backup", "/backup.sh")], CheckState::Failed),
            (
                vec![job("nightly", "sh -c etcdctl snapshot save /x")],
                CheckState::Failed,
            ),
            (vec![job("log-rotate", "logrotate")], CheckState::Passed),
        ];
        for (jobs, state) in table {
            assert_eq!(decide(&jobs).state, state, "{jobs:?}");
        }
        assert!(
            decide(&[job("nightly-etcd-backup", "")])
                .message
                .contains("`kube-system/nightly-etcd-backup`")
        );
        let suspended = CronJobFact {
            suspended: true,
            ..job("nightly-etcd-backup", "")
        };
        assert_eq!(decide(&[suspended]).state, CheckState::Passed);
    }
}
