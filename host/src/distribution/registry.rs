//! Talking to a registry: resolve a tag, fetch a manifest or a blob by digest, push.
//!
//! Every answer is checked here before anything keeps it: a manifest must hash to the
//! digest asked for and follow the Wasm artifact layout; a blob must not exceed the size
//! its manifest declared and must hash to its digest. A registry that sends anything else
//! gets a [`RegistryError`] naming what it sent.

use futures_util::StreamExt as _;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{DigestError, OciDistributionError};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use oci_wasm::{
    WASM_LAYER_MEDIA_TYPE, WASM_MANIFEST_CONFIG_MEDIA_TYPE, WASM_MANIFEST_MEDIA_TYPE, WasmClient, WasmConfig,
};

use super::reference::OciReference;
use super::store::sha256_digest;

/// The largest component accepted from a registry: far above any plugin, far below what
/// would hurt the host.
pub const MAX_COMPONENT_BYTES: u64 = 64 << 20;

/// What went wrong talking to a registry, or with what it sent.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry {registry}: {action} failed: {error}")]
    Request { registry: String, action: String, error: OciDistributionError },
    #[error("{reference} is not a Wasm plugin artifact: {why}")]
    NotWasm { reference: String, why: String },
    #[error("registry {registry} sent a manifest for {expected} that hashes to {actual}; refusing it")]
    WrongManifest { registry: String, expected: String, actual: String },
    #[error("registry {registry} sent a blob for {expected} that hashes to {actual}; refusing it")]
    WrongBlob { registry: String, expected: String, actual: String },
    #[error("registry {registry} sent more than the {declared} bytes the manifest declares for {digest}; refusing it")]
    Oversized { registry: String, digest: String, declared: u64 },
    #[error("the component is {size} bytes; plugins from registries are limited to {MAX_COMPONENT_BYTES}")]
    TooLarge { size: u64 },
    #[error("{0} is not a valid component to push: {1}")]
    NotAComponent(String, String),
    /// The registry did not finish answering in time (a stalled or dribbling server).
    #[error("registry {registry}: {action} did not finish within {} s", after.as_secs())]
    TimedOut { registry: String, action: String, after: std::time::Duration },
}

/// How long one registry operation may take, end to end: `$FWCTL_RUN_REGISTRY_TIMEOUT_SECS`,
/// else two minutes. A server answering a byte at a time must not hang a pull (or a run
/// that fetches a digest) for ever; per-read timeouts alone would not stop it.
fn operation_timeout() -> std::time::Duration {
    let secs = std::env::var("FWCTL_RUN_REGISTRY_TIMEOUT_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(120);
    std::time::Duration::from_secs(secs)
}

/// A client for one registry.
pub struct Registry {
    client: WasmClient,
    name: String,
    deadline: std::time::Duration,
}

impl Registry {
    /// A client for `reference`'s registry: plain HTTP for a loopback registry, TLS
    /// (verified against the system's roots) for every other.
    pub fn new(reference: &OciReference) -> Self {
        let protocol = if reference.is_loopback() {
            ClientProtocol::HttpsExcept(vec![reference.registry().to_string()])
        } else {
            ClientProtocol::Https
        };
        let client = Client::new(ClientConfig {
            protocol,
            connect_timeout: Some(std::time::Duration::from_secs(10)),
            read_timeout: Some(std::time::Duration::from_secs(30)),
            ..ClientConfig::default()
        });
        Self { client: WasmClient::new(client), name: reference.registry().to_string(), deadline: operation_timeout() }
    }

    /// Runs one operation under the end-to-end deadline.
    async fn within<T>(
        &self,
        action: impl Into<String>,
        operation: impl std::future::Future<Output = Result<T, RegistryError>>,
    ) -> Result<T, RegistryError> {
        tokio::time::timeout(self.deadline, operation).await.unwrap_or_else(|_| {
            Err(RegistryError::TimedOut { registry: self.name.clone(), action: action.into(), after: self.deadline })
        })
    }

    fn failed(&self, action: impl Into<String>) -> impl FnOnce(OciDistributionError) -> RegistryError + '_ {
        let action = action.into();
        move |error| RegistryError::Request { registry: self.name.clone(), action, error }
    }

    /// The manifest digest `reference`'s tag names now.
    pub async fn resolve_tag(&self, reference: &OciReference) -> Result<String, RegistryError> {
        let client_ref = reference.as_client_reference();
        let action = format!("resolving {reference}");
        let resolve = async {
            self.client
                .fetch_manifest_digest(client_ref, &RegistryAuth::Anonymous)
                .await
                .map_err(self.failed(action.clone()))
        };
        self.within(action.clone(), resolve).await
    }

    /// The manifest named `digest`, checked against it.
    pub async fn manifest_by_digest(&self, reference: &OciReference, digest: &str) -> Result<Vec<u8>, RegistryError> {
        self.within(format!("fetching manifest {digest}"), self.fetch_manifest(reference, digest)).await
    }

    async fn fetch_manifest(&self, reference: &OciReference, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let pinned = reference.with_digest(digest);
        let (bytes, _) = self
            .client
            .pull_manifest_raw(&pinned, &RegistryAuth::Anonymous, &[WASM_MANIFEST_MEDIA_TYPE])
            .await
            .map_err(|e| match e {
                OciDistributionError::DigestError(DigestError::VerificationError { expected, actual }) => {
                    RegistryError::WrongManifest { registry: self.name.clone(), expected, actual }
                }
                other => self.failed(format!("fetching manifest {digest}"))(other),
            })?;
        let actual = sha256_digest(&bytes);
        if actual != digest {
            return Err(RegistryError::WrongManifest { registry: self.name.clone(), expected: digest.into(), actual });
        }
        Ok(bytes.to_vec())
    }

    /// The component `layer` names, streamed with its declared size as the limit.
    pub async fn blob(&self, reference: &OciReference, layer: &OciDescriptor) -> Result<Vec<u8>, RegistryError> {
        self.within(format!("fetching blob {}", layer.digest), self.fetch_blob(reference, layer)).await
    }

    async fn fetch_blob(&self, reference: &OciReference, layer: &OciDescriptor) -> Result<Vec<u8>, RegistryError> {
        let pinned: Reference = reference.with_digest(&layer.digest);
        let declared = u64::try_from(layer.size).unwrap_or(0);
        let mut stream = self
            .client
            .pull_blob_stream(&pinned, layer)
            .await
            .map_err(self.failed(format!("fetching blob {}", layer.digest)))?;
        let mut bytes = Vec::with_capacity(declared as usize);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                // The client checks the digest as the stream ends; name that as a wrong blob.
                match e.get_ref().and_then(|inner| inner.downcast_ref::<DigestError>()) {
                    Some(DigestError::VerificationError { expected, actual }) => RegistryError::WrongBlob {
                        registry: self.name.clone(),
                        expected: expected.clone(),
                        actual: actual.clone(),
                    },
                    _ => self.failed(format!("fetching blob {}", layer.digest))(e.into()),
                }
            })?;
            if bytes.len() as u64 + chunk.len() as u64 > declared {
                return Err(RegistryError::Oversized {
                    registry: self.name.clone(),
                    digest: layer.digest.clone(),
                    declared,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        let actual = sha256_digest(&bytes);
        if actual != layer.digest {
            return Err(RegistryError::WrongBlob {
                registry: self.name.clone(),
                expected: layer.digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Pushes `component` as a Wasm artifact under `reference`'s tag; returns the
    /// manifest's digest and the component's.
    pub async fn push(&self, reference: &OciReference, component: Vec<u8>) -> Result<(String, String), RegistryError> {
        let wasm = sha256_digest(&component);
        let (config, layer) = WasmConfig::from_raw_component(component, None)
            .map_err(|e| RegistryError::NotAComponent(reference.to_string(), format!("{e:#}")))?;
        let client_ref = reference.as_client_reference();
        self.client.push(client_ref, &RegistryAuth::Anonymous, layer, config, None).await.map_err(|e| {
            RegistryError::Request {
                registry: self.name.clone(),
                action: format!("pushing {reference}"),
                error: e.downcast().unwrap_or_else(|e| OciDistributionError::GenericError(Some(format!("{e:#}")))),
            }
        })?;
        let manifest = self.resolve_tag(reference).await?;
        Ok((manifest, wasm))
    }
}

/// The one `application/wasm` layer of a Wasm artifact manifest.
pub fn wasm_layer(manifest: &[u8], digest: &str) -> Result<OciDescriptor, RegistryError> {
    let not_wasm = |why: String| RegistryError::NotWasm { reference: digest.to_string(), why };
    let manifest: OciImageManifest = serde_json::from_slice(manifest)
        .map_err(|e| not_wasm(format!("the manifest is not an OCI image manifest ({e})")))?;
    if manifest.config.media_type != WASM_MANIFEST_CONFIG_MEDIA_TYPE {
        return Err(not_wasm(format!(
            "config media type is {}, not {WASM_MANIFEST_CONFIG_MEDIA_TYPE}",
            manifest.config.media_type
        )));
    }
    let [layer] = manifest.layers.as_slice() else {
        return Err(not_wasm(format!("{} layers; a plugin is exactly one", manifest.layers.len())));
    };
    if layer.media_type != WASM_LAYER_MEDIA_TYPE {
        return Err(not_wasm(format!("layer media type is {}, not {WASM_LAYER_MEDIA_TYPE}", layer.media_type)));
    }
    if u64::try_from(layer.size).map_or(true, |size| size > MAX_COMPONENT_BYTES) {
        return Err(RegistryError::TooLarge { size: layer.size.max(0) as u64 });
    }
    Ok(layer.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(config_type: &str, layers: &[(&str, i64)]) -> Vec<u8> {
        let layers: Vec<_> = layers
            .iter()
            .map(|(media_type, size)| serde_json::json!({"mediaType": media_type, "digest": format!("sha256:{}", "a".repeat(64)), "size": size}))
            .collect();
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": WASM_MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": config_type, "digest": format!("sha256:{}", "b".repeat(64)), "size": 2},
            "layers": layers,
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn the_one_wasm_layer_of_a_wasm_artifact_is_found() {
        let layer =
            wasm_layer(&manifest(WASM_MANIFEST_CONFIG_MEDIA_TYPE, &[(WASM_LAYER_MEDIA_TYPE, 1234)]), "sha256:m")
                .unwrap();
        assert_eq!((layer.media_type.as_str(), layer.size), (WASM_LAYER_MEDIA_TYPE, 1234));
    }

    #[test]
    fn manifests_that_are_not_one_bounded_wasm_layer_are_refused_by_name() {
        let container = "application/vnd.oci.image.config.v1+json";
        let tar = "application/vnd.oci.image.layer.v1.tar+gzip";
        for (bytes, why) in [
            (b"<html>".to_vec(), "not an OCI image manifest"),
            (
                manifest(container, &[(WASM_LAYER_MEDIA_TYPE, 10)]),
                "config media type is application/vnd.oci.image.config.v1+json",
            ),
            (manifest(WASM_MANIFEST_CONFIG_MEDIA_TYPE, &[]), "0 layers"),
            (
                manifest(WASM_MANIFEST_CONFIG_MEDIA_TYPE, &[(WASM_LAYER_MEDIA_TYPE, 1), (WASM_LAYER_MEDIA_TYPE, 1)]),
                "2 layers",
            ),
            (
                manifest(WASM_MANIFEST_CONFIG_MEDIA_TYPE, &[(tar, 10)]),
                "layer media type is application/vnd.oci.image.layer.v1.tar+gzip",
            ),
            (manifest(WASM_MANIFEST_CONFIG_MEDIA_TYPE, &[(WASM_LAYER_MEDIA_TYPE, 1 << 40)]), "limited to"),
            (manifest(WASM_MANIFEST_CONFIG_MEDIA_TYPE, &[(WASM_LAYER_MEDIA_TYPE, -1)]), "limited to"),
        ] {
            let error = wasm_layer(&bytes, "sha256:m").unwrap_err().to_string();
            assert!(error.contains(why), "expected `{why}` in: {error}");
        }
    }
}
