//! Who reads which secrets on AWS. The stacks let each function read SSM parameters and
//! Secrets Manager secrets under its own folder of the secrets prefix only (SAM `SecretsPrefix`,
//! Terraform `secrets_prefix`, default `atalaya/`): a probe cannot read the key that signs
//! subscribers' links, nor the on-call tokens; the mailer cannot read the checks' credentials.
//! `atalaya validate --target lambda` warns about a reference its reader may not read.

use crate::template::{Reference, Source};

/// The stacks' default secrets prefix.
pub const PREFIX: &str = "atalaya/";

/// The functions that read references, each from its own folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// The checks' credentials, TLS client keys and CAs, flow values.
    Probe,
    /// The on-call channels' tokens, routing keys and webhook addresses.
    Alert,
    /// `settings.email.key` (the mailer and the pages function; the alert function signs
    /// acknowledgement links with it).
    Mail,
    /// Heartbeat tokens and `settings.heartbeats.key` (the ping and ping-judge functions).
    Heartbeat,
}

impl Reader {
    pub const ALL: [Reader; 4] = [
        Reader::Probe,
        Reader::Alert,
        Reader::Mail,
        Reader::Heartbeat,
    ];

    /// The folder under the prefix, e.g. `probe`.
    pub fn folder(self) -> &'static str {
        match self {
            Reader::Probe => "probe",
            Reader::Alert => "alert",
            Reader::Mail => "mail",
            Reader::Heartbeat => "heartbeat",
        }
    }

    /// Who reads it, in plain words.
    pub fn functions(self) -> &'static str {
        match self {
            Reader::Probe => "the probe function",
            Reader::Alert => "the alert function",
            Reader::Mail => "the mailer, the pages and the alert function",
            Reader::Heartbeat => "the ping and ping-judge functions",
        }
    }

    /// Where its references belong, as written in a checks file: `${ssm:/atalaya/probe/…}` or
    /// `${secret:atalaya/probe/…}`.
    pub fn where_(self) -> String {
        format!(
            "${{ssm:/{PREFIX}{f}/…}} or ${{secret:{PREFIX}{f}/…}}",
            f = self.folder()
        )
    }

    /// Whether the stacks let this reader read `r` (environment and flow variables are not
    /// the stacks' to grant).
    pub fn may_read(self, r: &Reference) -> bool {
        let folder = format!("{PREFIX}{}/", self.folder());
        match r.source {
            Source::Env | Source::Var => true,
            Source::Ssm => r.name.starts_with(&format!("/{folder}")),
            Source::Secret => r.name.starts_with(&folder),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(source: Source, name: &str) -> Reference {
        Reference {
            source,
            name: name.into(),
        }
    }

    #[test]
    fn each_reader_reads_its_own_folder_only() {
        let probe = r(Source::Ssm, "/atalaya/probe/shop-token");
        assert!(Reader::Probe.may_read(&probe));
        assert!(!Reader::Mail.may_read(&probe));
        let key = r(Source::Secret, "atalaya/mail/email-key");
        assert!(Reader::Mail.may_read(&key));
        assert!(!Reader::Probe.may_read(&key));
        // The bare prefix, another folder's name as a prefix of the folder, an SSM path without
        // its leading slash: none is inside.
        assert!(!Reader::Probe.may_read(&r(Source::Ssm, "/atalaya/shop-token")));
        assert!(!Reader::Probe.may_read(&r(Source::Secret, "atalaya/prober/x")));
        assert!(!Reader::Alert.may_read(&r(Source::Ssm, "atalaya/alert/x")));
        assert!(Reader::Alert.may_read(&r(Source::Env, "PD_KEY")));
        assert_eq!(
            Reader::Heartbeat.where_(),
            "${ssm:/atalaya/heartbeat/…} or ${secret:atalaya/heartbeat/…}"
        );
    }
}
