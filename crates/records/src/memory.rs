//! [`MemoryRecordStore`]: a [`RecordStore`] in memory.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use crate::{Change, Error, RecordStore, Result, Table, check_tables};

type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

/// A [`RecordStore`] in memory, for tests and for servers that keep no state; nothing survives
/// the value. One mutex makes every call atomic with respect to the others.
#[derive(Debug)]
pub struct MemoryRecordStore {
    tables: Mutex<BTreeMap<Table, Entries>>,
}

impl MemoryRecordStore {
    /// An empty store with `tables`.
    pub fn new(tables: &[Table]) -> Self {
        Self {
            tables: Mutex::new(tables.iter().map(|t| (*t, Entries::new())).collect()),
        }
    }
}

impl RecordStore for MemoryRecordStore {
    fn scan(&self, table: Table) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        // Every change is applied whole under the lock, so a poisoned lock holds a whole state.
        let tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        let entries = tables
            .get(&table)
            .ok_or(Error::UnknownTable(table.name()))?;
        Ok(entries
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn apply(&self, changes: &[Change]) -> Result<()> {
        let mut tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        let declared: Vec<Table> = tables.keys().copied().collect();
        check_tables(&declared, changes)?;
        for change in changes {
            match change {
                Change::Put { table, key, value } => {
                    if let Some(t) = tables.get_mut(table) {
                        t.insert(key.clone(), value.clone());
                    }
                }
                Change::Delete { table, key } => {
                    if let Some(t) = tables.get_mut(table) {
                        t.remove(key);
                    }
                }
            }
        }
        Ok(())
    }

    fn scrub(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;

    #[test]
    fn memory_store_conforms() {
        conformance::run_all(&|| Box::new(MemoryRecordStore::new(&conformance::TABLES)));
    }
}
