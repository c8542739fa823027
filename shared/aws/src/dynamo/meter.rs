//! What DynamoDB says each request consumed: every request asks for its
//! consumed capacity (`ReturnConsumedCapacity = TOTAL`), and each answer's
//! units are summed, reads and writes apart. Attached to the client as an
//! interceptor, so no call site can forget it.
//!
//! A transaction whose answer reports no capacity (the local endpoint
//! reports none for `TransactWriteItems`; DynamoDB always does) counts
//! what DynamoDB's rules charge for it, from the items sent: two units a
//! KB for each item put, two for each item updated, deleted or checked.
//!
//! A read counts at least what DynamoDB's rules charge for the items it
//! answered: a query or scan one unit for each 4 KB of them together, a
//! get or batch get one for each 4 KB of each item, half that when
//! eventually consistent. DynamoDB itself reports as much or more (it
//! charges what it evaluated); the local endpoint reports a flat figure
//! a request, which would hide a read that grows.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::ConfigBag;
use aws_sdk_dynamodb::operation::{
    batch_get_item::{BatchGetItemInput, BatchGetItemOutput},
    batch_write_item::{BatchWriteItemInput, BatchWriteItemOutput},
    delete_item::{DeleteItemInput, DeleteItemOutput},
    get_item::{GetItemInput, GetItemOutput},
    put_item::{PutItemInput, PutItemOutput},
    query::{QueryInput, QueryOutput},
    scan::{ScanInput, ScanOutput},
    transact_get_items::{TransactGetItemsInput, TransactGetItemsOutput},
    transact_write_items::{TransactWriteItemsInput, TransactWriteItemsOutput},
    update_item::{UpdateItemInput, UpdateItemOutput},
};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use parking_app::usecases::cost::StoreUse;

/// A transaction's units by DynamoDB's rules, for an answer that reports
/// none.
#[derive(Debug, Clone, Copy)]
struct TransactionUnits(f64);

impl aws_smithy_types::config_bag::Storable for TransactionUnits {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

/// Whether a read asked for strong consistency (a unit a 4 KB, else half).
#[derive(Debug, Clone, Copy)]
struct Consistent(bool);

impl aws_smithy_types::config_bag::Storable for Consistent {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

/// Read units by DynamoDB's rules for items of these sizes read as one
/// (a query's page) or each alone (gets).
fn read_units_by_rule<'a>(
    items: impl Iterator<
        Item = &'a std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    >,
    together: bool,
    consistent: bool,
) -> f64 {
    let sizes = items.map(super::keys::item_size);
    let units = if together {
        sizes.sum::<usize>().div_ceil(4096).max(1)
    } else {
        sizes.map(|b| b.div_ceil(4096).max(1)).sum()
    };
    let units = units as f64;
    if consistent { units } else { units / 2.0 }
}

/// Sums the capacity DynamoDB reports; clones share the sums.
#[derive(Debug, Clone, Default)]
pub struct CapacityMeter(Arc<Mutex<StoreUse>>);

impl CapacityMeter {
    /// Requests answered and the units they consumed so far.
    pub fn consumed(&self) -> StoreUse {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, write: bool, units: f64) {
        let mut u = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if write {
            u.writes += 1;
            u.write_units += units;
        } else {
            u.reads += 1;
            u.read_units += units;
        }
    }
}

fn units(c: Option<&ConsumedCapacity>) -> f64 {
    c.and_then(ConsumedCapacity::capacity_units).unwrap_or(0.0)
}

fn all_units(c: &[ConsumedCapacity]) -> f64 {
    c.iter().map(|c| units(Some(c))).sum()
}

impl Intercept for CapacityMeter {
    fn name(&self) -> &'static str {
        "CapacityMeter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input_mut();
        let total = Some(ReturnConsumedCapacity::Total);
        if let Some(i) = input.downcast_mut::<GetItemInput>() {
            i.return_consumed_capacity = total;
            let c = Consistent(i.consistent_read.unwrap_or(false));
            cfg.interceptor_state().store_put(c);
        } else if let Some(i) = input.downcast_mut::<PutItemInput>() {
            i.return_consumed_capacity = total;
        } else if let Some(i) = input.downcast_mut::<UpdateItemInput>() {
            i.return_consumed_capacity = total;
        } else if let Some(i) = input.downcast_mut::<DeleteItemInput>() {
            i.return_consumed_capacity = total;
        } else if let Some(i) = input.downcast_mut::<QueryInput>() {
            i.return_consumed_capacity = total;
            let c = Consistent(i.consistent_read.unwrap_or(false));
            cfg.interceptor_state().store_put(c);
        } else if let Some(i) = input.downcast_mut::<ScanInput>() {
            i.return_consumed_capacity = total;
            let c = Consistent(i.consistent_read.unwrap_or(false));
            cfg.interceptor_state().store_put(c);
        } else if let Some(i) = input.downcast_mut::<BatchGetItemInput>() {
            i.return_consumed_capacity = total;
            let c = i
                .request_items()
                .is_some_and(|r| r.values().all(|k| k.consistent_read().unwrap_or(false)));
            cfg.interceptor_state().store_put(Consistent(c));
        } else if let Some(i) = input.downcast_mut::<BatchWriteItemInput>() {
            i.return_consumed_capacity = total;
        } else if let Some(i) = input.downcast_mut::<TransactGetItemsInput>() {
            i.return_consumed_capacity = total;
        } else if let Some(i) = input.downcast_mut::<TransactWriteItemsInput>() {
            i.return_consumed_capacity = total;
            let units: f64 = i
                .transact_items()
                .iter()
                .map(|t| match t.put() {
                    Some(p) => {
                        let bytes = super::keys::item_size(p.item());
                        2.0 * bytes.div_ceil(1024).max(1) as f64
                    }
                    None => 2.0,
                })
                .sum();
            cfg.interceptor_state().store_put(TransactionUnits(units));
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(out) = context.output_or_error() else {
            // A refused write or a cancelled transaction is a request too;
            // DynamoDB's error carries no capacity figure to add.
            let name = cfg.load::<Metadata>().map_or("", Metadata::name);
            let write = matches!(
                name,
                "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem" | "TransactWriteItems"
            );
            self.add(write, 0.0);
            return Ok(());
        };
        let consistent = cfg.load::<Consistent>().is_some_and(|c| c.0);
        if let Some(o) = out.downcast_ref::<GetItemOutput>() {
            let rule = read_units_by_rule(o.item().into_iter(), false, consistent);
            self.add(false, units(o.consumed_capacity()).max(rule));
        } else if let Some(o) = out.downcast_ref::<QueryOutput>() {
            let rule = read_units_by_rule(o.items().iter(), true, consistent);
            self.add(false, units(o.consumed_capacity()).max(rule));
        } else if let Some(o) = out.downcast_ref::<ScanOutput>() {
            let rule = read_units_by_rule(o.items().iter(), true, consistent);
            self.add(false, units(o.consumed_capacity()).max(rule));
        } else if let Some(o) = out.downcast_ref::<BatchGetItemOutput>() {
            let answered = o.responses().into_iter().flat_map(|r| r.values().flatten());
            let rule = read_units_by_rule(answered, false, consistent);
            self.add(false, all_units(o.consumed_capacity()).max(rule));
        } else if let Some(o) = out.downcast_ref::<TransactGetItemsOutput>() {
            self.add(false, all_units(o.consumed_capacity()));
        } else if let Some(o) = out.downcast_ref::<PutItemOutput>() {
            self.add(true, units(o.consumed_capacity()));
        } else if let Some(o) = out.downcast_ref::<UpdateItemOutput>() {
            self.add(true, units(o.consumed_capacity()));
        } else if let Some(o) = out.downcast_ref::<DeleteItemOutput>() {
            self.add(true, units(o.consumed_capacity()));
        } else if let Some(o) = out.downcast_ref::<BatchWriteItemOutput>() {
            self.add(true, all_units(o.consumed_capacity()));
        } else if let Some(o) = out.downcast_ref::<TransactWriteItemsOutput>() {
            let reported = all_units(o.consumed_capacity());
            let units = match cfg.load::<TransactionUnits>() {
                Some(TransactionUnits(by_rule)) if reported == 0.0 => *by_rule,
                _ => reported,
            };
            self.add(true, units);
        }
        Ok(())
    }
}
