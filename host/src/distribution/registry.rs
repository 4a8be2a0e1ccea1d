//! Talking to a registry: resolve a tag, fetch a manifest or a blob by digest, push.
//!
//! Every answer is checked here before anything keeps it: a manifest must hash to the
//! digest asked for and follow the Wasm artifact layout; a blob must not exceed the size
//! its manifest declared and must hash to its digest. A registry that sends anything else
//! gets a [`RegistryError`] naming what it sent. Pulls go through our own
//! [transport](super::transport) (bounded bodies, redirects only where the reference
//! allows); pushes, which send rather than keep, through `oci-client`.

use oci_client::Client;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;

use super::credentials::{Credential, CredentialSource};
use oci_wasm::{
    WASM_LAYER_MEDIA_TYPE, WASM_MANIFEST_CONFIG_MEDIA_TYPE, WASM_MANIFEST_MEDIA_TYPE, WasmClient, WasmConfig,
};

use super::reference::OciReference;
use super::store::{is_sha256_digest, sha256_digest};
use super::transport::{Transport, TransportError};

/// The largest component accepted from a registry: far above any plugin, far below what
/// would hurt the host.
pub const MAX_COMPONENT_BYTES: u64 = 64 << 20;

/// The manifest media types a pull accepts: the Wasm artifact's (an OCI image manifest).
const MANIFEST_ACCEPT: &str = WASM_MANIFEST_MEDIA_TYPE;

/// What went wrong talking to a registry, or with what it sent.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A push failed in the registry client.
    #[error("registry {registry}: {action} failed: {error}")]
    Request {
        /// The registry.
        registry: String,
        /// What was being done.
        action: String,
        /// Why.
        error: OciDistributionError,
    },
    /// A pull failed on the wire.
    #[error("registry {registry}: {action}: {error}")]
    Transport {
        /// The registry.
        registry: String,
        /// What was being done.
        action: String,
        /// Why.
        error: TransportError,
    },
    /// The artifact is not one Wasm component in the CNCF layout.
    #[error("{reference} is not a Wasm plugin artifact: {why}")]
    NotWasm {
        /// What was asked for.
        reference: String,
        /// What it is instead.
        why: String,
    },
    /// A manifest that is not the one asked for.
    #[error("registry {registry} sent a manifest for {expected} that hashes to {actual}; refusing it")]
    WrongManifest {
        /// The registry.
        registry: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what came.
        actual: String,
    },
    /// A blob that is not the one asked for.
    #[error("registry {registry} sent a blob for {expected} that hashes to {actual}; refusing it")]
    WrongBlob {
        /// The registry.
        registry: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what came.
        actual: String,
    },
    /// A manifest declaring a component larger than any plugin.
    #[error("the component is {size} bytes; plugins from registries are limited to {MAX_COMPONENT_BYTES}")]
    TooLarge {
        /// The size declared.
        size: u64,
    },
    /// What was to be pushed is not a component (path, why).
    #[error("{0} is not a valid component to push: {1}")]
    NotAComponent(String, String),
    /// The registry did not finish answering in time (a stalled or dribbling server).
    #[error("registry {registry}: {action} did not finish within {} s", after.as_secs())]
    TimedOut {
        /// The registry.
        registry: String,
        /// What was being done.
        action: String,
        /// The deadline.
        after: std::time::Duration,
    },
}

/// A client for one registry.
pub struct Registry {
    transport: Transport,
    name: String,
    loopback: bool,
    deadline: std::time::Duration,
}

impl Registry {
    /// A client for `reference`'s registry: plain HTTP for a loopback registry, TLS
    /// (verified against the system's roots) for every other; `credential` is shown when
    /// the registry asks for one.
    pub fn new(reference: &OciReference, credentials: CredentialSource) -> Result<Self, RegistryError> {
        let name = reference.registry().to_string();
        let loopback = reference.is_loopback();
        let transport = Transport::new(&name, reference.repository(), loopback, credentials).map_err(|error| {
            RegistryError::Transport { registry: name.clone(), action: "setting up the client".into(), error }
        })?;
        // End to end: a server answering a byte at a time must not hang a pull (or a run
        // that fetches a digest) for ever; per-read timeouts alone would not stop it.
        let deadline = crate::paths::registry_timeout().map_err(|why| RegistryError::Transport {
            registry: name.clone(),
            action: "setting up the client".into(),
            error: TransportError::Http(why),
        })?;
        Ok(Self { transport, name, loopback, deadline })
    }

    /// Runs one operation under the end-to-end deadline, naming it in any failure.
    async fn within<T>(
        &self,
        action: String,
        operation: impl std::future::Future<Output = Result<T, TransportError>>,
    ) -> Result<T, RegistryError> {
        match tokio::time::timeout(self.deadline, operation).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(RegistryError::Transport { registry: self.name.clone(), action, error }),
            Err(_) => Err(RegistryError::TimedOut { registry: self.name.clone(), action, after: self.deadline }),
        }
    }

    /// The manifest digest `reference`'s tag names now: the registry's
    /// `Docker-Content-Digest`, else the hash of the manifest itself.
    pub async fn resolve_tag(&self, reference: &OciReference) -> Result<String, RegistryError> {
        let tag = reference.tag().unwrap_or("latest");
        let resolve = async {
            match self.transport.manifest_digest(tag, MANIFEST_ACCEPT).await? {
                Some(digest) => Ok(digest),
                None => Ok(sha256_digest(&self.transport.manifest(tag, MANIFEST_ACCEPT).await?)),
            }
        };
        let digest = self.within(format!("resolving {reference}"), resolve).await?;
        // The digest becomes a path segment of later requests and a key of the store.
        if !is_sha256_digest(&digest) {
            return Err(RegistryError::NotWasm {
                reference: reference.to_string(),
                why: format!("the registry named its digest `{}`, not sha256:HEX", digest.escape_debug()),
            });
        }
        Ok(digest)
    }

    /// The manifest named `digest`, checked against it.
    pub async fn manifest_by_digest(&self, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let bytes = self
            .within(format!("fetching manifest {digest}"), self.transport.manifest(digest, MANIFEST_ACCEPT))
            .await?;
        let actual = sha256_digest(&bytes);
        if actual != digest {
            return Err(RegistryError::WrongManifest { registry: self.name.clone(), expected: digest.into(), actual });
        }
        Ok(bytes)
    }

    /// The component `layer` names, read with its declared size as the limit.
    pub async fn blob(&self, layer: &OciDescriptor) -> Result<Vec<u8>, RegistryError> {
        let declared = u64::try_from(layer.size).unwrap_or(0);
        let bytes = self
            .within(format!("fetching blob {}", layer.digest), self.transport.blob(&layer.digest, declared))
            .await?;
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
    /// oci-client answers the registry's Basic and Bearer challenges with `credential`.
    pub async fn push(
        &self,
        reference: &OciReference,
        component: Vec<u8>,
        credential: Option<&Credential>,
    ) -> Result<(String, String), RegistryError> {
        let auth = match credential {
            Some(Credential::Basic { username, password }) => RegistryAuth::Basic(username.clone(), password.clone()),
            // oci-client would send a refresh token to the registry as if it were an
            // access token.
            Some(Credential::IdentityToken(_)) => {
                return Err(RegistryError::NotAComponent(
                    reference.to_string(),
                    "the auth file holds an identity token for this registry, which push cannot use; log in with a user and password or access token".into(),
                ));
            }
            None => RegistryAuth::Anonymous,
        };
        let wasm = sha256_digest(&component);
        let (config, layer) = WasmConfig::from_raw_component(component, None)
            .map_err(|e| RegistryError::NotAComponent(reference.to_string(), format!("{e:#}")))?;
        let protocol =
            if self.loopback { ClientProtocol::HttpsExcept(vec![self.name.clone()]) } else { ClientProtocol::Https };
        let client = WasmClient::new(Client::new(ClientConfig {
            protocol,
            connect_timeout: Some(std::time::Duration::from_secs(10)),
            read_timeout: Some(std::time::Duration::from_secs(30)),
            ..ClientConfig::default()
        }));
        let client_ref = reference.as_client_reference();
        client.push(client_ref, &auth, layer, config, None).await.map_err(|e| RegistryError::Request {
            registry: self.name.clone(),
            action: format!("pushing {reference}"),
            error: e.downcast().unwrap_or_else(|e| OciDistributionError::GenericError(Some(format!("{e:#}")))),
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
