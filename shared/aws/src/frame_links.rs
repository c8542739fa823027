//! Links to evidence frames: a SigV4 presigned `GET` of the evidence
//! bucket (S3's query-string authentication), signed here with the
//! function's own credentials, so a link costs no request. A link works
//! for [`LINK_SECONDS`] and only for the one key it names; the role that
//! signs may read `frames/*` of the bucket and nothing else.

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use jiff::Timestamp;
use parking_api::FrameLinks;
use parking_app::evidence::{FrameKey, FrameLink, LINK_SECONDS};

/// Presigns `GET`s of one bucket.
#[derive(Clone)]
pub struct S3FrameLinks {
    bucket: String,
    region: String,
    /// A local S3-compatible endpoint, addressed path-style; `None`:
    /// S3 itself, virtual-hosted.
    endpoint: Option<String>,
    credentials: SharedCredentialsProvider,
}

impl std::fmt::Debug for S3FrameLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3FrameLinks")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl S3FrameLinks {
    /// Links to `bucket` signed with the configuration's credentials and
    /// region (and its endpoint, for a local stand-in).
    ///
    /// # Errors
    ///
    /// When the configuration has no credentials provider or no region.
    pub fn new(config: &SdkConfig, bucket: impl Into<String>) -> Result<Self, String> {
        Ok(S3FrameLinks {
            bucket: bucket.into(),
            region: config
                .region()
                .ok_or("the evidence bucket's links need a region")?
                .to_string(),
            endpoint: config
                .endpoint_url()
                .map(|e| e.trim_end_matches('/').to_owned()),
            credentials: config
                .credentials_provider()
                .ok_or("the evidence bucket's links need credentials")?,
        })
    }

    /// The object's address: virtual-hosted on S3, path-style locally.
    fn address(&self, key: &FrameKey) -> (String, String) {
        // Frame keys hold only `A-Za-z0-9-_./`: nothing to escape.
        match &self.endpoint {
            Some(e) => {
                let host = e
                    .split_once("://")
                    .map_or(e.as_str(), |(_, h)| h)
                    .to_owned();
                (format!("{e}/{}/{}", self.bucket, key.as_str()), host)
            }
            None => {
                let host = format!("{}.s3.{}.amazonaws.com", self.bucket, self.region);
                (format!("https://{host}/{}", key.as_str()), host)
            }
        }
    }

    /// The link, signed with `credentials` at `now`.
    ///
    /// # Errors
    ///
    /// When the request cannot be signed (described, never with the
    /// credentials).
    pub fn presign(
        &self,
        key: &FrameKey,
        credentials: &Credentials,
        now: Timestamp,
    ) -> Result<FrameLink, String> {
        let (url, host) = self.address(key);
        presign_get(&url, &host, &self.region, credentials, now, LINK_SECONDS).map(|url| {
            FrameLink {
                key: key.clone(),
                url,
                expires_at: now
                    .checked_add(jiff::SignedDuration::from_secs(
                        i64::try_from(LINK_SECONDS).unwrap_or(i64::MAX),
                    ))
                    .unwrap_or(now),
            }
        })
    }
}

/// S3's presigned `GET` of `url` (already in encoded form), valid for
/// `seconds` from `now`.
fn presign_get(
    url: &str,
    host: &str,
    region: &str,
    credentials: &Credentials,
    now: Timestamp,
    seconds: u64,
) -> Result<String, String> {
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(seconds));
    // S3 signs the path as sent: no double escaping, no normalising.
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(SystemTime::from(now))
        .settings(settings)
        .build()
        .map_err(|e| format!("cannot sign a frame link: {e}"))?
        .into();
    let request = SignableRequest::new(
        "GET",
        url,
        [("host", host)].into_iter(),
        SignableBody::UnsignedPayload,
    )
    .map_err(|e| format!("cannot sign a frame link: {e}"))?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| format!("cannot sign a frame link: {e}"))?
        .into_parts();
    let mut signed = http::Request::builder()
        .method("GET")
        .uri(url)
        .body(())
        .map_err(|e| format!("cannot sign a frame link: {e}"))?;
    instructions.apply_to_request_http1x(&mut signed);
    Ok(signed.uri().to_string())
}

impl FrameLinks for S3FrameLinks {
    fn link<'a>(
        &'a self,
        key: &'a FrameKey,
        now: Timestamp,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<FrameLink, String>> + Send + 'a>> {
        Box::pin(async move {
            let credentials = self
                .credentials
                .provide_credentials()
                .await
                .map_err(|e| format!("no credentials to sign a frame link: {e}"))?;
            self.presign(key, &credentials, now)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// S3's own example of query-string authentication ("Authenticating
    /// Requests: Using Query Parameters", its worked example): the same
    /// key, time and expiry give the documented signature.
    #[test]
    fn signs_s3s_documented_example() {
        let credentials = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "example",
        );
        let now: Timestamp = "2013-05-24T00:00:00Z".parse().expect("a time");
        let url = presign_get(
            "https://examplebucket.s3.amazonaws.com/test.txt",
            "examplebucket.s3.amazonaws.com",
            "us-east-1",
            &credentials,
            now,
            86_400,
        )
        .expect("signed");
        assert!(
            url.starts_with("https://examplebucket.s3.amazonaws.com/test.txt?"),
            "{url}"
        );
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request",
            "X-Amz-Date=20130524T000000Z",
            "X-Amz-Expires=86400",
            "X-Amz-SignedHeaders=host",
            "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
        ] {
            assert!(url.contains(part), "{part} not in {url}");
        }
    }
}
