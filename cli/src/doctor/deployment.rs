//! What a deployment of a checks file is made of, by name: the SAM and Terraform stacks name
//! everything alike from the prefix, so `doctor` can look for each piece without reading the
//! stacks.

use atalaya_core::Config;

#[derive(Clone, Debug, PartialEq)]
pub struct Deployment {
    pub prefix: String,
    pub home: String,
    pub account: String,
    pub partition: String,
    /// The probe regions (the heartbeats' region is not one).
    pub probe_regions: Vec<String>,
    /// The SES domain customer mail is sent from (`settings.brand.from`'s); `None`: no mail.
    pub mail_domain: Option<String>,
    /// The ping endpoint's address (`settings.heartbeats.url`), when the file has heartbeats.
    pub ping_url: Option<String>,
    /// The subscribers' pages (`settings.email.pages_url`), with customer mail.
    pub pages_url: Option<String>,
    /// Whether the file says where the status site is (`settings.status_page.url`).
    pub status_site: bool,
}

impl Deployment {
    pub fn of(config: &Config, prefix: &str, home: &str, account: &str) -> Deployment {
        let s = &config.settings;
        let heartbeats = config.checks.iter().any(|c| c.kind.is_passive());
        Deployment {
            prefix: prefix.into(),
            home: home.into(),
            account: account.into(),
            partition: partition_of(home).into(),
            probe_regions: s
                .regions
                .iter()
                .filter(|r| r.as_str() != atalaya_core::kinds::heartbeat::REGION)
                .cloned()
                .collect(),
            mail_domain: s.brand.as_ref().map(|b| b.from.domain().to_string()),
            ping_url: s.heartbeats.url.clone().filter(|_| heartbeats),
            pages_url: s.email.pages_url.clone().filter(|_| s.brand.is_some()),
            status_site: s.status_site.url.is_some(),
        }
    }

    fn name(&self, what: &str) -> String {
        format!("{}{what}", self.prefix)
    }

    /// The home region's tables.
    pub fn tables(&self) -> Vec<String> {
        let mut t: Vec<String> = ["results", "state", "incidents", "outbox"]
            .iter()
            .map(|n| self.name(n))
            .collect();
        if self.mail_domain.is_some() {
            t.push(self.name("subscribers"));
        }
        t
    }

    /// Every function, with its region: the home stack's and each probe region's probe.
    pub fn functions(&self) -> Vec<(String, String)> {
        let mut home = vec!["alert", "rollup", "ping", "ping-judge"];
        if self.mail_domain.is_some() {
            home.extend(["mailer", "pages"]);
        }
        let mut out: Vec<(String, String)> = home
            .iter()
            .map(|f| (self.home.clone(), self.name(f)))
            .collect();
        out.extend(
            self.probe_regions
                .iter()
                .map(|r| (r.clone(), self.name("probe"))),
        );
        out
    }

    /// The functions that read the published checks file and say which version they run.
    pub fn versioned_functions(&self) -> Vec<(String, String)> {
        let mut out = vec![(self.home.clone(), self.name("alert"))];
        out.extend(
            self.probe_regions
                .iter()
                .map(|r| (r.clone(), self.name("probe"))),
        );
        out
    }

    /// The functions anyone may call, each only through its HTTP API.
    pub fn public_functions(&self) -> Vec<String> {
        let mut out = vec![self.name("ping")];
        if self.mail_domain.is_some() {
            out.push(self.name("pages"));
        }
        out
    }

    /// The home region and the probe regions, once each.
    pub fn regions(&self) -> Vec<String> {
        let mut out = vec![self.home.clone()];
        for r in &self.probe_regions {
            if !out.contains(r) {
                out.push(r.clone());
            }
        }
        out
    }

    pub fn checks_bucket(&self) -> String {
        format!("{}checks-{}-{}", self.prefix, self.account, self.home)
    }

    pub fn operators_topic(&self) -> String {
        format!(
            "arn:{}:sns:{}:{}:{}operators",
            self.partition, self.home, self.account, self.prefix
        )
    }

    /// The status site's CloudFront distribution, by its comment.
    pub fn distribution_comment(&self) -> String {
        self.name("status site")
    }
}

/// The AWS partition of a region.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}
