//! The node's durable state: its input log in redb (an embedded ACID database whose commit
//! survives SIGKILL and power loss: copy-on-write pages, a checksummed commit slot, fsync
//! before a commit returns). A batch of inputs is written and committed *before* the node
//! handles any of them, so that nothing the node sent was derived from an input it could lose
//! (D-040): after a kill the log replays to a state the peers have seen at most as far as.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::input::Record;

const INPUTS: TableDefinition<u64, &[u8]> = TableDefinition::new("inputs");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// What can go wrong with the log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed.
    #[error("{path}: database: {message}")]
    Db {
        /// Its file.
        path: String,
        /// What redb said.
        message: String,
    },
    /// The log belongs to another node or genesis.
    #[error("{path}: this log is of another node or genesis (expected {expected}, found {found})")]
    Foreign {
        /// Its file.
        path: String,
        /// The genesis digest this node has.
        expected: String,
        /// The one in the log.
        found: String,
    },
    /// A record does not decode (the database checksums its pages, so this is a bug or a log
    /// written by another version).
    #[error("{path}: input {index}: {error}")]
    Corrupt {
        /// Its file.
        path: String,
        /// The record.
        index: u64,
        /// Why.
        error: reference::wire::DecodeError,
    },
}

/// The input log of one node.
pub struct Store {
    db: Database,
    path: String,
    /// Records in the log.
    next: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).field("next", &self.next).finish()
    }
}

impl Store {
    /// Open (or create) the log at `path` for the node whose genesis digest is `genesis`.
    pub fn open(path: &Path, genesis: &[u8; 32]) -> Result<Store, StoreError> {
        let name = path.display().to_string();
        let db_error =
            |e: &dyn std::fmt::Display| StoreError::Db { path: name.clone(), message: e.to_string() };
        let db = Database::create(path).map_err(|e| db_error(&e))?;
        let txn = db.begin_write().map_err(|e| db_error(&e))?;
        let next = {
            let mut meta = txn.open_table(META).map_err(|e| db_error(&e))?;
            let found = meta.get("genesis").map_err(|e| db_error(&e))?.map(|v| v.value().to_vec());
            match found {
                None => {
                    meta.insert("genesis", genesis.as_slice()).map_err(|e| db_error(&e))?;
                }
                Some(found) if found == genesis => {}
                Some(found) => {
                    return Err(StoreError::Foreign {
                        path: name,
                        expected: crate::config::to_hex(genesis),
                        found: crate::config::to_hex(&found),
                    });
                }
            }
            let inputs = txn.open_table(INPUTS).map_err(|e| db_error(&e))?;
            let last = inputs.last().map_err(|e| db_error(&e))?.map(|(k, _)| k.value());
            last.map_or(0, |k| k + 1)
        };
        txn.commit().map_err(|e| db_error(&e))?;
        Ok(Store { db, path: name, next })
    }

    /// Records in the log.
    pub fn len(&self) -> u64 {
        self.next
    }

    /// Whether the log is empty (a node that never started).
    pub fn is_empty(&self) -> bool {
        self.next == 0
    }

    /// Every record, in order.
    pub fn records(&self) -> Result<Vec<Record>, StoreError> {
        let db_error =
            |e: &dyn std::fmt::Display| StoreError::Db { path: self.path.clone(), message: e.to_string() };
        let txn = self.db.begin_read().map_err(|e| db_error(&e))?;
        let inputs = txn.open_table(INPUTS).map_err(|e| db_error(&e))?;
        let mut records = Vec::with_capacity(self.next as usize);
        for item in inputs.iter().map_err(|e| db_error(&e))? {
            let (key, value) = item.map_err(|e| db_error(&e))?;
            let index = key.value();
            assert_eq!(index, records.len() as u64, "the log's keys are consecutive");
            let record = Record::decode(value.value()).map_err(|error| StoreError::Corrupt {
                path: self.path.clone(),
                index,
                error,
            })?;
            records.push(record);
        }
        Ok(records)
    }

    /// Append `batch` in one transaction and commit it; returns the index of its first record.
    /// `abort_before_commit` (tests only) kills the process after the records are written and
    /// before the commit: a SIGKILL in the middle of a durable write.
    pub fn append(&mut self, batch: &[Record], abort_before_commit: bool) -> Result<u64, StoreError> {
        let db_error =
            |e: &dyn std::fmt::Display| StoreError::Db { path: self.path.clone(), message: e.to_string() };
        let first = self.next;
        let txn = self.db.begin_write().map_err(|e| db_error(&e))?;
        {
            let mut inputs = txn.open_table(INPUTS).map_err(|e| db_error(&e))?;
            for (i, record) in batch.iter().enumerate() {
                inputs.insert(first + i as u64, record.encode().as_slice()).map_err(|e| db_error(&e))?;
            }
        }
        if abort_before_commit {
            std::process::abort();
        }
        txn.commit().map_err(|e| db_error(&e))?;
        self.next += batch.len() as u64;
        Ok(first)
    }
}
