//! `unlearn ids`: the operator's list of the ids (or data subjects) a store still holds, or
//! the keyed tags of those it removed.
//!
//! Removed ids and subjects are not kept anywhere in clear: the right to erasure covers the
//! identifier too (an id in a list of removals says the person was in the training set), so
//! the store keeps only their keyed tags (HMAC-SHA256 under the store's noise key) in the
//! ledger. `--removed` lists those tags with the ledger step that removed them; whether a
//! given id or subject was removed is answered by `--check VALUE`, which tags VALUE with the
//! key and looks it up.

use super::CliResult;
use super::args::StoreArg;
use clap::Args;
use serde_json::json;
use std::collections::BTreeMap;
use unlearn::requests::Erasure;
use unlearn::unlearner::RemovalError;

/// Arguments of `unlearn ids`.
#[derive(Debug, Args)]
#[command(
    after_help = "Operator-only: the output names the people in the training set. Removed ids
and subjects are kept only as keyed tags (the ledger's), never in clear, so --removed lists
tags; --check VALUE says whether VALUE is a remaining or a removed id or subject.

Examples:
  unlearn ids --store digits.store | wc -l
  unlearn ids --store people.store --subjects --json
  unlearn ids --store people.store --removed
  unlearn ids --store people.store --check alice"
)]
pub struct IdsArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// List data subjects (with their number of remaining rows) instead of row ids.
    #[arg(long)]
    pub subjects: bool,
    /// List the keyed tags of removed ids (with --subjects: of erased subjects), each with
    /// the ledger step that removed it.
    #[arg(long, conflicts_with = "check")]
    pub removed: bool,
    /// Say whether VALUE is a remaining id, a removed id, a remaining or erased subject, or
    /// unknown.
    #[arg(long, value_name = "VALUE")]
    pub check: Option<String>,
    /// Print one JSON object instead of one line per entry.
    #[arg(long)]
    pub json: bool,
}

/// Runs `unlearn ids`.
pub fn run(args: &IdsArgs) -> CliResult {
    let unlearner = args.store.open()?.load()?;
    // External rows: the store holds no id, only the removed ones' tags.
    let design = unlearner.model.secret.rows.held();
    let external = "the store's rows are external (they live in the user's table): it holds no ids or subjects to list; --removed lists the removed ones' tags";
    if let Some(value) = &args.check {
        let key = &unlearner.model.secret.key;
        let id_tag = key.id_tag(value);
        let removed = unlearner
            .ledger
            .entries
            .iter()
            .any(|e| e.removed_id_tags.contains(&id_tag));
        let id = if design.is_some_and(|d| d.position(value).is_some()) {
            "remaining"
        } else if removed {
            "removed"
        } else if design.is_none() {
            "not removed (the rows are external: remaining, or unknown)"
        } else {
            "unknown"
        };
        let subject = match unlearner.resolve(&Erasure::Subject(value.clone())) {
            Ok(_) => "remaining",
            Err(RemovalError::SubjectAlreadyRemoved(_)) => "removed",
            Err(_) => "unknown",
        };
        if args.json {
            say!(
                "{}",
                json!({"value": value, "as_id": id, "as_subject": subject})
            );
        } else {
            say!("as an id: {id}; as a subject: {subject}");
        }
        return Ok(());
    }
    if args.removed {
        let mut tags: Vec<(u64, &String)> = Vec::new();
        for entry in &unlearner.ledger.entries {
            let list = if args.subjects {
                &entry.erased_subject_tags
            } else {
                &entry.removed_id_tags
            };
            tags.extend(list.iter().map(|t| (entry.step, t)));
        }
        if args.json {
            let list: Vec<_> = tags
                .iter()
                .map(|(step, tag)| json!({"tag": tag, "ledger_step": step}))
                .collect();
            say!("{}", json!({ "removed": list }));
        } else {
            for (step, tag) in tags {
                say!("{tag} {step}");
            }
        }
        return Ok(());
    }
    let design = design.ok_or(external)?;
    if args.subjects {
        let subjects = design.subjects().ok_or(
            "the store records no data subjects (train with --subject COL to record them)",
        )?;
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for s in subjects {
            *counts.entry(s).or_default() += 1;
        }
        if args.json {
            say!("{}", json!({ "subjects": counts }));
        } else {
            for (subject, rows) in counts {
                say!("{subject} {rows}");
            }
        }
        return Ok(());
    }
    if args.json {
        say!("{}", json!({ "ids": design.ids() }));
    } else {
        for id in design.ids() {
            say!("{id}");
        }
    }
    Ok(())
}
