//! `${ssm:…}` and `${secret:…}` references for `atalaya probe` and `atalaya run`: read from
//! AWS with the usual credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, …) in AWS_REGION (else
//! AWS_DEFAULT_REGION, else us-east-1), as the probe function reads them in its home region. A
//! reference that cannot be read is named on stderr (never its value); its checks report a
//! check error.

use atalaya_core::Config;
use atalaya_probe::Engine;
use std::collections::BTreeSet;
use tokio::time::Instant;

pub struct Remote {
    wanted: BTreeSet<atalaya_core::Reference>,
    aws: Option<aws_config::SdkConfig>,
}

impl Remote {
    pub fn of(config: &Config) -> Remote {
        Remote {
            wanted: atalaya_probe::remote_references(config),
            aws: None,
        }
    }

    /// Reads the references if there are any and they are not fresh.
    pub async fn refresh(&mut self, engine: &Engine) {
        let now = Instant::now().into_std();
        if self.wanted.is_empty() || !engine.references().stale(now) {
            return;
        }
        if self.aws.is_none() {
            let region = std::env::var("AWS_REGION")
                .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|_| "us-east-1".into());
            let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
            self.aws = Some(atalaya_aws::sdk_config(&region, endpoint.as_deref()).await);
        }
        let Some(aws) = &self.aws else { return };
        let got = atalaya_aws::references::read(&self.wanted, aws).await;
        for (r, why) in &got.failed {
            eprintln!("warning: {r} could not be read ({why}): the checks that use it report a check error");
        }
        let complete = got.failed.is_empty();
        engine.references().update(got.values, complete, now);
    }
}
