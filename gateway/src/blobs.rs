//! Content-addressed artifacts on disk: `DIR/ab/cdef…` named by the SHA-256 of
//! their bytes, written to a temporary file and renamed, so a crash never
//! leaves a torn artifact under its final name.

use crate::error::{GatewayError, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(GatewayError::io(dir))?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, hash: &str) -> Result<PathBuf> {
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(GatewayError::Corrupt {
                what: "blob reference".into(),
                reason: format!("{hash:?} is not a sha256 hex digest"),
            });
        }
        Ok(self.dir.join(&hash[..2]).join(&hash[2..]))
    }

    /// The name `bytes` are stored under.
    pub fn hash_of(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    /// Stores `bytes` and returns their hash (idempotent).
    pub fn put(&self, bytes: &[u8]) -> Result<String> {
        let hash = Self::hash_of(bytes);
        let path = self.path(&hash)?;
        if path.is_file() {
            return Ok(hash);
        }
        let parent = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(parent).map_err(GatewayError::io(parent))?;
        let tmp = parent.join(format!(".{}.{}.tmp", &hash[2..], rand::random::<u64>()));
        std::fs::write(&tmp, bytes).map_err(GatewayError::io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(GatewayError::io(&path))?;
        Ok(hash)
    }

    /// Reads a blob back, checking it still hashes to its name.
    pub fn get(&self, hash: &str) -> Result<Vec<u8>> {
        let path = self.path(hash)?;
        let bytes = std::fs::read(&path).map_err(GatewayError::io(&path))?;
        if hex::encode(Sha256::digest(&bytes)) != hash {
            return Err(GatewayError::Corrupt {
                what: path.display().to_string(),
                reason: "contents do not match their hash".into(),
            });
        }
        Ok(bytes)
    }
}
