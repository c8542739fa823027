//! The unpaid register as staff read it: the stays left owing at the
//! lots of the operator that runs this one ([`crate::unpaid`]) that are
//! in the caller's scope, a page at a time. It only reads; a stay leaves the register when it is paid (at
//! any kiosk of the operator, in the app) or staff resolve it.

use crate::ids::LotId;
use crate::store::prelude::*;
use crate::unpaid::RegisterPage;

/// One page of the register of the operator that runs `lot_id`, by the
/// plates' four digits, from `after` (a page's `next`), holding only the
/// stays of lots `visible` to the caller (staff see the lots in their
/// scope: a page may hold fewer than `limit`, and `next` goes on).
///
/// # Errors
///
/// `NotFound` for an unknown lot, or the store's.
pub async fn page<S: LotStore + UnpaidStore>(
    store: &S,
    lot_id: &LotId,
    visible: impl Fn(&LotId) -> bool,
    after: Option<&str>,
    limit: usize,
) -> Result<RegisterPage, StoreError> {
    let operator = store.get_lot(lot_id).await?.operator();
    let mut page = store.register(&operator, None, after, limit).await?;
    page.debts.retain(|d| visible(&d.lot_id));
    Ok(page)
}
