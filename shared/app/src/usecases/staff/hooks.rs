//! An operator's webhook subscriptions for a lot: made (the secret shown
//! that once), listed with their health, removed, switched on again after
//! repeated failure, and their missed events replayed. Every change is in
//! the lot's audit trail. The delivery side is
//! [`crate::usecases::hook_delivery`]; the protocol, [`crate::hooks`].

use crate::hooks::{
    Delivery, EventType, HookMessage, LotHooks, MAX_SUBSCRIPTIONS, Secret, Subscription, check_url,
};
use crate::ids::LotId;
use crate::model::AuditEntry;
use crate::outbox::{OutboxMessage, Queues};
use crate::store::prelude::*;
use crate::usecases::adjust::{ActionError, Staff, action_id};
use crate::usecases::hook_delivery::change;

/// What an operator asks for.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub url: String,
    /// Event type names (`stay.closed`, …).
    pub events: Vec<String>,
}

fn entry(who: Staff<'_>, action: &str, target: &str, note: String) -> AuditEntry {
    let at = who.now.as_second().to_string();
    AuditEntry {
        id: action_id("webhook", &[who.lot_id.as_str(), action, target, &at]),
        lot_id: who.lot_id.clone(),
        at: who.now,
        actor: who.actor.clone(),
        action: format!("webhook.{action}"),
        target: target.to_owned(),
        note,
        amount: None,
    }
}

/// Records `audit` and, when the event types the lot's enabled
/// subscriptions want changed, writes them on the lot with it (one step),
/// so its devices queue just those.
async fn sync_lot<S: HookStore + AuditStore + LotStore>(
    store: &S,
    who: Staff<'_>,
    audit: &AuditEntry,
) -> Result<(), ActionError> {
    for _ in 0..5 {
        let wanted: Vec<EventType> = {
            let hooks = store.lot_hooks(who.lot_id).await?;
            let mut all: Vec<EventType> = hooks
                .iter()
                .flat_map(|h| &h.subscriptions)
                .filter(|s| s.enabled)
                .flat_map(|s| s.events.iter().copied())
                .collect();
            all.sort();
            all.dedup();
            all
        };
        let mut lot = match store.get_lot(who.lot_id).await {
            Ok(l) => l,
            Err(StoreError::NotFound { .. }) => return Err(ActionError::NotFound("lot")),
            Err(e) => return Err(e.into()),
        };
        if lot.webhook_events == wanted {
            store.record_audit(audit).await?;
            return Ok(());
        }
        lot.webhook_events = wanted;
        lot.revision += 1;
        match store.update_lot(&lot, audit).await {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict(Refusal::StaleLot { .. })) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(ActionError::conflict(
        "lot_changed",
        "the lot kept changing; try again",
    ))
}

/// The lot's subscriptions.
///
/// # Errors
///
/// The store's.
pub async fn list<S: HookStore>(store: &S, lot: &LotId) -> Result<Vec<Subscription>, ActionError> {
    Ok(store
        .lot_hooks(lot)
        .await?
        .map(|h| h.subscriptions)
        .unwrap_or_default())
}

/// Makes a subscription; the answer holds its secret, shown this once.
///
/// # Errors
///
/// `Invalid` for an address that is not https (`url`) or an unknown or
/// missing event type (`events`); `Conflict(too_many_webhooks)` past
/// [`MAX_SUBSCRIPTIONS`]; the store's.
pub async fn subscribe<S: HookStore + AuditStore + LotStore>(
    store: &S,
    who: Staff<'_>,
    new: &NewSubscription,
) -> Result<Subscription, ActionError> {
    check_url(&new.url).map_err(|p| ActionError::invalid("url", p))?;
    if new.url.len() > 2048 {
        return Err(ActionError::invalid(
            "url",
            "must be at most 2048 characters",
        ));
    }
    if new.events.is_empty() {
        return Err(ActionError::invalid(
            "events",
            "name at least one event type",
        ));
    }
    let mut events = Vec::new();
    for (i, name) in new.events.iter().enumerate() {
        let kind = EventType::parse(name).ok_or_else(|| {
            let known: Vec<&str> = EventType::ALL.iter().map(|e| e.name()).collect();
            ActionError::invalid(
                format!("events[{i}]"),
                format!("unknown event type; one of {}", known.join(", ")),
            )
        })?;
        if !events.contains(&kind) {
            events.push(kind);
        }
    }
    events.sort();
    let sub = Subscription {
        id: format!("wh-{:016x}", crate::ids::nonce()),
        url: new.url.clone(),
        events,
        secret: Secret::generate(),
        created_at: who.now,
        enabled: true,
        disabled_at: None,
        failures: 0,
        last_failure: None,
        last_success_at: None,
        missed: Vec::new(),
    };
    let mut full = false;
    change(store, who.lot_id, |h: &mut LotHooks| {
        full = h.subscriptions.len() >= MAX_SUBSCRIPTIONS;
        if full {
            return false;
        }
        h.subscriptions.push(sub.clone());
        true
    })
    .await?;
    if full {
        return Err(ActionError::conflict(
            "too_many_webhooks",
            format!("a lot has at most {MAX_SUBSCRIPTIONS} webhook subscriptions"),
        ));
    }
    let names: Vec<&str> = sub.events.iter().map(|e| e.name()).collect();
    let audit = entry(
        who,
        "created",
        &sub.id,
        format!("{} for {}", sub.url, names.join(" ")),
    );
    sync_lot(store, who, &audit).await?;
    Ok(sub)
}

/// Removes a subscription.
///
/// # Errors
///
/// `NotFound("webhook")`; the store's.
pub async fn remove<S: HookStore + AuditStore + LotStore>(
    store: &S,
    who: Staff<'_>,
    id: &str,
) -> Result<(), ActionError> {
    let changed = change(store, who.lot_id, |h| {
        let before = h.subscriptions.len();
        h.subscriptions.retain(|s| s.id != id);
        h.subscriptions.len() != before
    })
    .await?;
    if changed.is_none() {
        return Err(ActionError::NotFound("webhook"));
    }
    sync_lot(store, who, &entry(who, "removed", id, String::new())).await?;
    Ok(())
}

/// Switches a subscription on again (its failures forgotten).
///
/// # Errors
///
/// `NotFound("webhook")`; the store's.
pub async fn enable<S: HookStore + AuditStore + LotStore>(
    store: &S,
    who: Staff<'_>,
    id: &str,
) -> Result<Subscription, ActionError> {
    let mut found = false;
    let changed = change(store, who.lot_id, |h| {
        let Some(s) = h.get_mut(id) else {
            return false;
        };
        found = true;
        if s.enabled {
            return false;
        }
        s.enabled = true;
        s.disabled_at = None;
        s.failures = 0;
        true
    })
    .await?;
    if !found {
        return Err(ActionError::NotFound("webhook"));
    }
    if changed.is_some() {
        sync_lot(store, who, &entry(who, "enabled", id, String::new())).await?;
    }
    list(store, who.lot_id)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or(ActionError::NotFound("webhook"))
}

/// Sends a subscription's missed events again, oldest first, and forgets
/// them; the answer is how many. Each keeps its id, so a receiver that
/// had them after all drops them.
///
/// # Errors
///
/// `NotFound("webhook")`; `Conflict(webhook_disabled)` while it is off;
/// the store's or the queue's.
pub async fn replay<S: HookStore + AuditStore, Q: Queues>(
    store: &S,
    queues: &Q,
    who: Staff<'_>,
    id: &str,
) -> Result<usize, ActionError> {
    let subs = list(store, who.lot_id).await?;
    let sub = subs
        .iter()
        .find(|s| s.id == id)
        .ok_or(ActionError::NotFound("webhook"))?;
    if !sub.enabled {
        return Err(ActionError::conflict(
            "webhook_disabled",
            "switch the webhook on before replaying its missed events",
        ));
    }
    let replay = u32::try_from(who.now.as_second().rem_euclid(1 << 30))
        .unwrap_or(1)
        .max(1);
    for event in &sub.missed {
        let delivery = HookMessage::Delivery(Delivery {
            lot_id: who.lot_id.clone(),
            subscription_id: sub.id.clone(),
            event: event.clone(),
            replay,
        });
        queues
            .send(&OutboxMessage::Webhooks(delivery))
            .await
            .map_err(|e| {
                ActionError::Store(StoreError::Unavailable {
                    source: e.to_string().into(),
                })
            })?;
    }
    let sent: Vec<String> = sub.missed.iter().map(|e| e.id.clone()).collect();
    change(store, who.lot_id, |h| {
        let Some(s) = h.get_mut(id) else {
            return false;
        };
        let before = s.missed.len();
        s.missed.retain(|e| !sent.contains(&e.id));
        s.missed.len() != before
    })
    .await?;
    store
        .record_audit(&entry(
            who,
            "replayed",
            id,
            format!("{} missed events", sent.len()),
        ))
        .await?;
    Ok(sent.len())
}

/// Whether a subscription needs an operator: switched off, or failing.
pub fn unhealthy(sub: &Subscription) -> bool {
    !sub.enabled || sub.failures > 0
}
