//! The status site in an S3 bucket that CloudFront serves (origin access control): objects under
//! `site/` (CloudFront's origin path) with their content type and cache header; what the site
//! holds, by fingerprint, in `state/site.json`, outside what CloudFront serves (it would list
//! the unlisted customers' slugs).

use super::{Site, SiteError};
use atalaya_status::Object;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use std::collections::BTreeMap;

/// Where the objects are, under the bucket.
pub const SITE_PREFIX: &str = "site/";
/// What the site holds, by fingerprint.
pub const MANIFEST: &str = "state/site.json";

pub struct S3Site {
    client: Client,
    bucket: String,
}

impl S3Site {
    pub fn new(client: Client, bucket: impl Into<String>) -> S3Site {
        S3Site {
            client,
            bucket: bucket.into(),
        }
    }
}

fn err(what: &str, e: impl std::fmt::Display) -> SiteError {
    SiteError(format!("{what}: {e}"))
}

impl Site for S3Site {
    async fn fingerprints(&self) -> Result<BTreeMap<String, String>, SiteError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(MANIFEST)
            .send()
            .await
        {
            Ok(o) => {
                let body = o
                    .body
                    .collect()
                    .await
                    .map_err(|e| err("read the site's manifest", e))?
                    .into_bytes();
                // A manifest that does not parse only costs a full rewrite.
                Ok(serde_json::from_slice(&body).unwrap_or_default())
            }
            Err(e) if e.as_service_error().is_some_and(|x| x.is_no_such_key()) => {
                Ok(BTreeMap::new())
            }
            Err(e) => Err(err(
                "read the site's manifest",
                aws_sdk_s3::error::DisplayErrorContext(e),
            )),
        }
    }

    async fn put(&self, o: &Object) -> Result<(), SiteError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(format!("{SITE_PREFIX}{}", o.path))
            .content_type(o.content_type)
            .cache_control(o.cache.header())
            .body(ByteStream::from(o.body.clone()))
            .send()
            .await
            .map_err(|e| err(&o.path, aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    async fn delete(&self, path: &str) -> Result<(), SiteError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(format!("{SITE_PREFIX}{path}"))
            .send()
            .await
            .map_err(|e| err(path, aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    async fn remember(&self, f: &BTreeMap<String, String>) -> Result<(), SiteError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(MANIFEST)
            .content_type("application/json")
            .cache_control("no-store")
            .body(ByteStream::from(serde_json::to_vec(f).unwrap_or_default()))
            .send()
            .await
            .map_err(|e| {
                err(
                    "write the site's manifest",
                    aws_sdk_s3::error::DisplayErrorContext(e),
                )
            })?;
        Ok(())
    }
}
