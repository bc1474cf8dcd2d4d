//! The keyed tags of every row the ledger removed and every data subject its requests
//! erased, as hash sets kept in step with the ledger, so that an external-rows request
//! checks its m rows against E earlier entries in O(m) lookups instead of a scan of every
//! entry's tags per request.

use crate::certificate::{Certificate, EntryKind};
use std::collections::HashSet;

/// The removed id tags and erased subject tags of a prefix of the ledger: the first
/// `counted` entries, the last of which has digest `head`. Entries are hash-chained (each
/// digest covers the one before), so a ledger whose entry `counted − 1` still has that
/// digest still begins with the counted entries: its new entries are added, O(their tags).
/// Any other ledger (a failed request's entries rolled back below the count, entries
/// replaced) is counted again from the start. Derived from the ledger: never persisted,
/// never compared.
#[derive(Debug, Clone, Default)]
pub(super) struct RemovedTags {
    counted: usize,
    head: Option<String>,
    ids: HashSet<String>,
    /// Subjects a request erased (a removal or refresh entry; not a reconciliation entry's
    /// erasures of a branch the store lost, which an external-rows store holds pending).
    subjects: HashSet<String>,
}

impl PartialEq for RemovedTags {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl RemovedTags {
    /// Brings the sets up to `entries` (the ledger, oldest first).
    pub(super) fn sync(&mut self, entries: &[Certificate]) {
        let continues = match self.counted.checked_sub(1) {
            None => true,
            Some(last) => entries.get(last).map(|e| &e.digest) == self.head.as_ref(),
        };
        if !continues {
            *self = Self::default();
        }
        for entry in &entries[self.counted..] {
            self.ids.extend(entry.removed_id_tags.iter().cloned());
            if entry.kind != EntryKind::Reconciliation {
                self.subjects
                    .extend(entry.erased_subject_tags.iter().cloned());
            }
        }
        if self.counted < entries.len() {
            self.counted = entries.len();
            self.head = entries.last().map(|e| e.digest.clone());
        }
    }

    /// Whether a counted entry removed the row with keyed id tag `tag`.
    pub(super) fn removed_id(&self, tag: &str) -> bool {
        self.ids.contains(tag)
    }

    /// Whether a counted request (not a reconciliation entry) erased the subject with keyed
    /// tag `tag`.
    pub(super) fn erased_subject(&self, tag: &str) -> bool {
        self.subjects.contains(tag)
    }
}
