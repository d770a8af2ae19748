//! The published checks file in S3 (a versioned bucket): the newest version's id, and a
//! version's bytes. `atalaya publish-checks` uploads; the functions read.

use aws_sdk_s3::primitives::ByteStream;

/// Where the published checks file is.
#[derive(Clone, Debug)]
pub struct S3Checks {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
}

/// The object key when none is given.
pub const DEFAULT_KEY: &str = "checks.tar.gz";

impl S3Checks {
    /// The published checks file the functions' environment names (ATALAYA_CHECKS_BUCKET,
    /// ATALAYA_CHECKS_KEY), if any.
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Option<S3Checks> {
        let bucket = std::env::var("ATALAYA_CHECKS_BUCKET")
            .ok()
            .filter(|b| !b.is_empty())?;
        let key = std::env::var("ATALAYA_CHECKS_KEY")
            .ok()
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| DEFAULT_KEY.to_string());
        Some(S3Checks::new(sdk, &bucket, &key))
    }

    pub fn new(sdk: &aws_config::SdkConfig, bucket: &str, key: &str) -> S3Checks {
        // Path-style addressing works with every bucket name and with local endpoints.
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build();
        S3Checks {
            client: aws_sdk_s3::Client::from_conf(config),
            bucket: bucket.into(),
            key: key.into(),
        }
    }

    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// The newest version's id (`None` when nothing was published yet).
    pub async fn latest(&self) -> Result<Option<String>, String> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(
                out.version_id
                    .or(out.e_tag)
                    .unwrap_or_else(|| "unversioned".into()),
            )),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(crate::classify(&e).detail),
        }
    }

    /// That version's bytes, at most `limit` of them.
    pub async fn fetch(&self, version: &str, limit: usize) -> Result<Vec<u8>, String> {
        let mut get = self.client.get_object().bucket(&self.bucket).key(&self.key);
        if version != "unversioned" && !version.starts_with('"') {
            get = get.version_id(version);
        }
        let out = get.send().await.map_err(|e| crate::classify(&e).detail)?;
        if out.content_length.unwrap_or(0) as usize > limit {
            return Err(format!("{} is over {limit} bytes", self.url()));
        }
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| format!("reading {}: {e}", self.url()))?
            .into_bytes();
        if bytes.len() > limit {
            return Err(format!("{} is over {limit} bytes", self.url()));
        }
        Ok(bytes.to_vec())
    }

    /// Uploads a bundle; the new version's id.
    pub async fn publish(&self, bundle: Vec<u8>) -> Result<String, String> {
        let out = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .content_type("application/gzip")
            .body(ByteStream::from(bundle))
            .send()
            .await
            .map_err(|e| crate::classify(&e).detail)?;
        Ok(out
            .version_id
            .or(out.e_tag)
            .unwrap_or_else(|| "unversioned".into()))
    }
}
