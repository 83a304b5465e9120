//! PlatformLicense: the licence named in `cvo-config` stays valid until the target release's end of
//! support (or, when the release publishes none, has not expired).

use acp_policy::AcpVersion;
use k8s_openapi::jiff::Timestamp;
use k8s_openapi::jiff::civil::Date;
use k8s_openapi::jiff::tz::TimeZone;

use crate::cvsh::preflight::sources::PlatformSource;
use crate::cvsh::preflight::{Context, Outcome, Sources};

pub const NAME: &str = acp_api::checks::PLATFORM_LICENSE;

/// Key of the licence Secret holding the expiry (`YYYY-MM-DD` or RFC 3339).
pub const EXPIRY_KEY: &str = "expiresAt";

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    let (inputs, platform) = (cx.inputs, cx.platform);
    let Some(secret) = &cx.settings.license_secret else {
        return Outcome::passed(
            "NoLicenseConfigured",
            "no licence Secret is named in ConfigMap cpaas-system/cvo-config (key `license`): nothing to check",
        );
    };
    let data = match platform.secret(secret).await {
        Ok(Some(data)) => data,
        Ok(None) => {
            return Outcome::failed(
                "LicenseSecretMissing",
                format!(
                    "licence Secret cpaas-system/{secret} named in cvo-config does not exist: create it or fix cvo-config"
                ),
            );
        }
        Err(err) => return Outcome::unanswered(&err),
    };
    let expiry = data
        .get(EXPIRY_KEY)
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .and_then(parse_date);
    let Some(expiry) = expiry else {
        return Outcome::failed(
            "LicenseUnreadable",
            format!(
                "licence Secret cpaas-system/{secret} has no readable `{EXPIRY_KEY}` date (YYYY-MM-DD): fix the Secret"
            ),
        );
    };
    let end_of_support = inputs
        .target_release()
        .and_then(|r| r.end_of_support.as_deref())
        .and_then(parse_date);
    decide(secret, expiry, inputs.target, end_of_support, today(inputs.now))
}

fn today(now: Timestamp) -> Date {
    now.to_zoned(TimeZone::UTC).date()
}

/// `YYYY-MM-DD`, or the date part of an RFC 3339 timestamp.
pub fn parse_date(text: &str) -> Option<Date> {
    let text = text.trim();
    text.get(..10).unwrap_or(text).parse().ok()
}

pub fn decide(
    secret: &str,
    expiry: Date,
    target: &AcpVersion,
    end_of_support: Option<Date>,
    today: Date,
) -> Outcome {
    if expiry < today {
        return Outcome::failed(
            "LicenseExpired",
            format!(
                "the platform licence (Secret cpaas-system/{secret}) expired on {expiry}: renew it before upgrading"
            ),
        );
    }
    match end_of_support {
        Some(end) if expiry < end => Outcome::failed(
            "LicenseExpiresBeforeEndOfSupport",
            format!(
                "the platform licence (Secret cpaas-system/{secret}) expires on {expiry}, before ACP {target} support ends \
                 on {end}: renew it, or upgrade with force to accept the risk"
            ),
        ),
        _ => Outcome::passed(
            "LicenseValid",
            format!("the platform licence is valid until {expiry}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_api::cvsh::CheckState;

    fn date(text: &str) -> Date {
        parse_date(text).unwrap()
    }

    #[test]
    fn expiry_is_compared_with_today_and_the_end_of_support() {
        let target = AcpVersion::new(4, 3, 1);
        let today = date("2026-06-01");
        let table = [
            ("2026-05-31", None, CheckState::Failed, "LicenseExpired"),
            ("2027-01-01", None, CheckState::Passed, "LicenseValid"),
            (
                "2027-01-01",
                Some("2027-06-30"),
                CheckState::Failed,
                "LicenseExpiresBeforeEndOfSupport",
            ),
            (
                "2028-01-01",
                Some("2027-06-30"),
                CheckState::Passed,
                "LicenseValid",
            ),
        ];
        for (expiry, end, state, reason) in table {
            let outcome = decide("acp-license", date(expiry), &target, end.map(date), today);
            assert_eq!(
                (outcome.state, outcome.reason.as_str()),
                (state, reason),
                "{expiry} {end:?}"
            );
        }
    }

    #[test]
    fn dates_parse_with_or_without_time() {
        assert_eq!(date("2027-01-01T00:00:00Z"), date("2027-01-01"));
        assert!(parse_date("soon").is_none());
    }
}
