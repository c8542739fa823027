//! Operators read and set the feature flags of their own lots: a flag
//! turned on or off for one lot, or left to the rollout and the default
//! that hold for every lot. Each change is audited with the operator's
//! note, in the same write as the change.

use serde::Serialize;

use crate::LotId;
use crate::flags::{Flag, StoredFlags};
use crate::model::AuditEntry;
use crate::store::prelude::*;
use crate::usecases::adjust::{ActionError, Staff, action_id, check_note};
use crate::usecases::operator::lot;

/// What an operator sets a flag to at their lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagChoice {
    On,
    Off,
    /// No rule for this lot: the rollout and the default decide.
    Inherit,
}

impl FlagChoice {
    fn name(self) -> &'static str {
        match self {
            FlagChoice::On => "on",
            FlagChoice::Off => "off",
            FlagChoice::Inherit => "inherit",
        }
    }
}

/// Why a flag is what it is at a lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagRule {
    /// The lot is listed on.
    Lot,
    /// The lot is listed off.
    LotOff,
    /// A share of plates (`rollout_percent`) has it.
    Rollout,
    /// Nothing names the lot: the default.
    Default,
}

/// One flag at one lot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LotFlag {
    pub flag: Flag,
    /// On for every car at the lot (`None`: for the rollout's share).
    pub on: Option<bool>,
    pub rule: FlagRule,
    pub rollout_percent: Option<u8>,
    /// What the flag is with no rule and no rollout.
    pub default_on: bool,
}

/// The flags at a lot, and the document's revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LotFlags {
    pub revision: u64,
    pub flags: Vec<LotFlag>,
}

fn at_lot(doc: &StoredFlags, lot_id: &LotId) -> LotFlags {
    let flags = Flag::ALL
        .iter()
        .map(|&flag| {
            let s = doc.set.flags.get(&flag).cloned().unwrap_or_default();
            let default_on = s.default.unwrap_or_else(|| flag.default_on());
            let (on, rule) = if s.off_lots.contains(lot_id) {
                (Some(false), FlagRule::LotOff)
            } else if s.on_lots.contains(lot_id) {
                (Some(true), FlagRule::Lot)
            } else if s.rollout_percent.is_some() {
                (None, FlagRule::Rollout)
            } else {
                (Some(default_on), FlagRule::Default)
            };
            LotFlag {
                flag,
                on,
                rule,
                rollout_percent: s.rollout_percent,
                default_on,
            }
        })
        .collect();
    LotFlags {
        revision: doc.revision,
        flags,
    }
}

/// The flags at a lot.
///
/// # Errors
///
/// [`ActionError::NotFound`] for an unknown lot; the store's.
pub async fn lot_flags<S: Store>(store: &S, lot_id: &LotId) -> Result<LotFlags, ActionError> {
    lot(store, lot_id).await?;
    let doc = store.flag_document().await?.unwrap_or_default();
    Ok(at_lot(&doc, lot_id))
}

/// How often a change is tried again when another change got in first.
const ATTEMPTS: usize = 5;

/// Sets a flag at the operator's lot, with a note, audited; setting what
/// is already set changes nothing and records nothing.
///
/// # Errors
///
/// [`ActionError::Invalid`] without a note; [`ActionError::NotFound`] for
/// an unknown lot; a conflict when other changes kept getting in first;
/// the store's.
pub async fn set_lot_flag<S: Store>(
    store: &S,
    who: Staff<'_>,
    flag: Flag,
    choice: FlagChoice,
    note: &str,
) -> Result<LotFlags, ActionError> {
    check_note(note)?;
    lot(store, who.lot_id).await?;
    for _ in 0..ATTEMPTS {
        let current = store.flag_document().await?.unwrap_or_default();
        let mut next = current.clone();
        let setting = next.set.flags.entry(flag).or_default();
        setting.on_lots.retain(|l| l != who.lot_id);
        setting.off_lots.retain(|l| l != who.lot_id);
        match choice {
            FlagChoice::On => setting.on_lots.push(who.lot_id.clone()),
            FlagChoice::Off => setting.off_lots.push(who.lot_id.clone()),
            FlagChoice::Inherit => {}
        }
        setting.on_lots.sort();
        setting.off_lots.sort();
        if next.set.flags.get(&flag) == current.set.flags.get(&flag)
            || (!current.set.flags.contains_key(&flag)
                && next.set.flags.get(&flag) == Some(&Default::default()))
        {
            return Ok(at_lot(&current, who.lot_id));
        }
        next.revision = current.revision + 1;
        let revision = next.revision.to_string();
        let id = action_id(
            "flag",
            &[who.lot_id.as_str(), flag.name(), choice.name(), &revision],
        );
        let entry = AuditEntry {
            id,
            lot_id: who.lot_id.clone(),
            at: who.now,
            actor: who.actor.clone(),
            action: format!("flag.{}", choice.name()),
            target: flag.name().to_owned(),
            note: note.trim().to_owned(),
            amount: None,
        };
        match store.put_flags(&next, &entry).await {
            Ok(()) => return Ok(at_lot(&next, who.lot_id)),
            Err(StoreError::Conflict(Refusal::StaleFlags { .. })) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ActionError::Conflict {
        code: "flags_busy",
        detail: "other flag changes kept getting in first; try again".into(),
    })
}
