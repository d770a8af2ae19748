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
    /// The probe regions (the heartbeats' region is not one), each with the AWS region its stack
    /// is in (a private location's own, else itself).
    pub probe_regions: Vec<(String, String)>,
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
            probe_regions: s.probe_regions(),
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
        out.extend(self.probes());
        out
    }

    /// Each probe region's function and the AWS region it is in (a private location's function
    /// carries its name).
    pub fn probes(&self) -> Vec<(String, String)> {
        self.probe_regions
            .iter()
            .map(|(name, aws)| {
                let f = if name == aws {
                    self.name("probe")
                } else {
                    self.name(&format!("probe-{name}"))
                };
                (aws.clone(), f)
            })
            .collect()
    }

    /// The functions that read the published checks file and say which version they run each
    /// minute (the alert function, the heartbeats' judge, every probe).
    pub fn versioned_functions(&self) -> Vec<(String, String)> {
        let mut out = vec![
            (self.home.clone(), self.name("alert")),
            (self.home.clone(), self.name("ping-judge")),
        ];
        out.extend(self.probes());
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
        for (_, aws) in &self.probe_regions {
            if !out.contains(aws) {
                out.push(aws.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_location_is_looked_for_in_its_aws_region_by_its_name() {
        let text = "settings:\n  regions: [eu-west-1, us-east-1, vpc-prod]\n  private_locations: { vpc-prod: { aws_region: eu-west-1 } }\ncustomers: [{ id: a, name: A }]\nservices: [{ id: s, customer: a, name: S }]\nchecks:\n  - { id: c, service: s, tcp: { host: db.internal.example, port: 5432 } }\n";
        let config = atalaya_core::load_str(text, "t.yaml", atalaya_core::Target::Lambda).unwrap();
        let d = Deployment::of(&config, "atalaya-", "eu-west-1", "123456789012");
        assert_eq!(
            d.probes(),
            [
                ("eu-west-1".to_string(), "atalaya-probe".to_string()),
                ("us-east-1".to_string(), "atalaya-probe".to_string()),
                (
                    "eu-west-1".to_string(),
                    "atalaya-probe-vpc-prod".to_string()
                ),
            ]
        );
        assert_eq!(d.regions(), ["eu-west-1", "us-east-1"]);
        assert_eq!(d.checks_bucket(), "atalaya-checks-123456789012-eu-west-1");
        assert_eq!(
            d.operators_topic(),
            "arn:aws:sns:eu-west-1:123456789012:atalaya-operators"
        );
    }
}
