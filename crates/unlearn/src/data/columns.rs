//! Column roles resolved from a header (CSV) or a schema (Parquet): which column is the id,
//! which the target, which the data subject, which are ignored, and the checks every reader makes on them — each
//! named column exists, and no column plays two roles.

use std::collections::HashMap;

use super::{CsvOptions, DataError, TargetSpec};

/// The column names of a file, indexed (the caller has refused duplicate names).
pub(crate) struct Header<'a> {
    file: &'a str,
    names: &'a [String],
    index: HashMap<&'a str, usize>,
}

/// The roles [`Header::roles`] resolved.
pub(crate) struct Roles {
    /// The id column.
    pub id: Option<usize>,
    /// The data-subject column (who each row is about).
    pub subject: Option<usize>,
    /// The target column, when its values are read (not under [`TargetSpec::None`]).
    pub target: Option<usize>,
    /// The target column as named, read or not: never a feature either.
    named_target: Option<usize>,
    /// The columns to skip.
    pub ignored: Vec<usize>,
}

impl Roles {
    /// True if column `k` has a role other than feature.
    pub fn taken(&self, k: usize) -> bool {
        Some(k) == self.id
            || Some(k) == self.subject
            || Some(k) == self.named_target
            || self.ignored.contains(&k)
    }
}

impl<'a> Header<'a> {
    pub fn new(file: &'a str, names: &'a [String]) -> Self {
        let index = names
            .iter()
            .enumerate()
            .map(|(k, n)| (n.as_str(), k))
            .collect();
        Self { file, names, index }
    }

    /// The position of `column`, wanted as `role` ("id", "target", "feature", …).
    pub fn find(&self, column: &str, role: &'static str) -> Result<usize, DataError> {
        self.index
            .get(column)
            .copied()
            .ok_or_else(|| DataError::UnknownColumn {
                file: self.file.to_string(),
                column: column.to_string(),
                role,
                available: self.names.to_vec(),
            })
    }

    /// Column `k` was asked to be both `first` and `second`.
    pub fn clash(&self, k: usize, first: &'static str, second: &'static str) -> DataError {
        DataError::ColumnRole {
            file: self.file.to_string(),
            column: self.names[k].clone(),
            first,
            second,
        }
    }

    /// Resolves the id, target and ignored columns of `opts`: each must exist, the id may
    /// not be the target, an ignored column neither, and a target encoding needs a target.
    pub fn roles(&self, opts: &CsvOptions) -> Result<Roles, DataError> {
        let id = opts.id.as_deref().map(|c| self.find(c, "id")).transpose()?;
        let target = opts
            .target
            .as_deref()
            .map(|c| self.find(c, "target"))
            .transpose()?;
        if let (Some(i), Some(t)) = (id, target)
            && i == t
        {
            return Err(self.clash(i, "id", "target"));
        }
        let subject = opts
            .subject
            .as_deref()
            .map(|c| self.find(c, "subject"))
            .transpose()?;
        for (other, role) in [(id, "id"), (target, "target")] {
            if let (Some(s), Some(o)) = (subject, other)
                && s == o
            {
                return Err(self.clash(s, role, "subject"));
            }
        }
        if target.is_none() && opts.spec != TargetSpec::None {
            return Err(DataError::NoTargetColumn {
                file: self.file.to_string(),
            });
        }
        let mut ignored = Vec::with_capacity(opts.ignore.len());
        for name in &opts.ignore {
            let k = self.find(name, "column to ignore")?;
            if Some(k) == id {
                return Err(self.clash(k, "id", "column to ignore"));
            }
            if Some(k) == target {
                return Err(self.clash(k, "target", "column to ignore"));
            }
            if Some(k) == subject {
                return Err(self.clash(k, "subject", "column to ignore"));
            }
            ignored.push(k);
        }
        Ok(Roles {
            id,
            subject,
            target: target.filter(|_| opts.spec != TargetSpec::None),
            named_target: target,
            ignored,
        })
    }

    /// Checks that column `k`, named as a feature, has no other role.
    pub fn check_feature(&self, k: usize, roles: &Roles) -> Result<(), DataError> {
        if Some(k) == roles.id {
            return Err(self.clash(k, "id", "feature"));
        }
        if Some(k) == roles.named_target {
            return Err(self.clash(k, "target", "feature"));
        }
        if Some(k) == roles.subject {
            return Err(self.clash(k, "subject", "feature"));
        }
        if roles.ignored.contains(&k) {
            return Err(self.clash(k, "feature", "column to ignore"));
        }
        Ok(())
    }
}
