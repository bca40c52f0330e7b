//! API keys per tenant (`authorization: Bearer <key>`).
//!
//! The key file is JSON: `{"tenants": {"alice": ["key-1", "sha256:<hex>"]}}`;
//! a key may be given in clear or as the hex SHA-256 of its bytes. Only hashes
//! are kept in memory. Without a key file every caller is tenant `default`.

use crate::error::{GatewayError, Result};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tonic::{Request, Status};

/// The caller's tenant, put into each request's extensions by [`Auth`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant(pub String);

pub const DEFAULT_TENANT: &str = "default";

#[derive(Debug, Clone, Default)]
pub struct Auth {
    /// sha256(key) -> tenant; None: authentication off.
    keys: Option<Arc<HashMap<[u8; 32], String>>>,
}

#[derive(serde::Deserialize)]
struct KeyFile {
    tenants: HashMap<String, Vec<String>>,
}

fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl Auth {
    /// No authentication: every caller is tenant `default`.
    pub fn open() -> Self {
        Self::default()
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(GatewayError::io(path))?;
        let file: KeyFile = serde_json::from_str(&text).map_err(|e| {
            GatewayError::Config(format!(
                "{}: {e} (expected {{\"tenants\": {{\"NAME\": [\"KEY\", ...]}}}})",
                path.display()
            ))
        })?;
        let mut keys = HashMap::new();
        for (tenant, list) in file.tenants {
            if tenant.is_empty() {
                return Err(GatewayError::Config(format!(
                    "{}: empty tenant name",
                    path.display()
                )));
            }
            for k in list {
                let h = match k.strip_prefix("sha256:") {
                    Some(hex_hash) => hex::decode(hex_hash)
                        .ok()
                        .and_then(|b| <[u8; 32]>::try_from(b).ok())
                        .ok_or_else(|| {
                            GatewayError::Config(format!(
                                "{}: tenant {tenant}: a sha256: key needs 64 hex digits",
                                path.display()
                            ))
                        })?,
                    None if k.len() < 16 => {
                        return Err(GatewayError::Config(format!(
                            "{}: tenant {tenant}: keys need at least 16 characters",
                            path.display()
                        )));
                    }
                    None => hash(&k),
                };
                if let Some(other) = keys.insert(h, tenant.clone())
                    && other != tenant
                {
                    return Err(GatewayError::Config(format!(
                        "{}: one key is listed for tenants {other} and {tenant}",
                        path.display()
                    )));
                }
            }
        }
        Ok(Self {
            keys: Some(Arc::new(keys)),
        })
    }

    /// The tenant of a bearer key, or why the caller is refused.
    pub fn tenant_of(&self, authorization: Option<&str>) -> Result<Tenant> {
        let Some(keys) = &self.keys else {
            return Ok(Tenant(DEFAULT_TENANT.into()));
        };
        let header = authorization.ok_or_else(|| {
            GatewayError::Unauthenticated("missing authorization: Bearer <api key>".into())
        })?;
        let key = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                GatewayError::Unauthenticated("authorization must be 'Bearer <api key>'".into())
            })?;
        keys.get(&hash(key.trim()))
            .map(|t| Tenant(t.clone()))
            .ok_or_else(|| GatewayError::Unauthenticated("unknown API key".into()))
    }

    /// The tonic interceptor: resolves the tenant or refuses the call.
    pub fn intercept(&self, mut req: Request<()>) -> Result<Request<()>, Status> {
        let header = req
            .metadata()
            .get("authorization")
            .map(|v| {
                v.to_str()
                    .map_err(|_| Status::unauthenticated("authorization is not ASCII"))
            })
            .transpose()?;
        let tenant = self.tenant_of(header).map_err(Status::from)?;
        req.extensions_mut().insert(tenant);
        Ok(req)
    }
}

/// The tenant an intercepted request belongs to.
pub fn tenant<T>(req: &Request<T>) -> Result<Tenant, Status> {
    req.extensions()
        .get::<Tenant>()
        .cloned()
        .ok_or_else(|| Status::internal("request reached a service without passing authentication"))
}
