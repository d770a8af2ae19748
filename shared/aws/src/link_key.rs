//! The key that signs subscribers' links (`settings.email.key`), as the mailer and the pages
//! read it: from the checks file in force (the published one, not only the one packed at
//! deploy), resolved again only when its reference changes. A function started before email was
//! set up starts all the same and says what it cannot do until the key is there.

use atalaya_core::email::Key;
use atalaya_core::Config;
use std::sync::Mutex;

/// The last key read, by its reference.
#[derive(Default)]
pub struct LinkKey {
    read: Mutex<Option<(String, Key)>>,
}

impl LinkKey {
    /// The key `config` names, or why there is none (not set, unreadable, too short).
    pub async fn get(&self, config: &Config, sdk: &aws_config::SdkConfig) -> Result<Key, String> {
        let Some(reference) = config.settings.email.key.as_ref() else {
            return Err("settings.email.key is not set: subscribers' links are signed with it (a ${ssm:...} or ${secret:...} reference); publish a checks file that has it".into());
        };
        let text = reference.to_string();
        if let Some((r, k)) = self.read.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            if *r == text {
                return Ok(k.clone());
            }
        }
        let value = crate::references::resolve(reference, sdk)
            .await
            .map_err(|e| format!("settings.email.key: {e}"))?;
        let key = Key::from_text(&value).map_err(|e| format!("settings.email.key: {e}"))?;
        *self.read.lock().unwrap_or_else(|p| p.into_inner()) = Some((text, key.clone()));
        Ok(key)
    }
}
