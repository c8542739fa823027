//! Plates' open claims (one item per plate, written conditionally on the
//! version read) and each claimant's copy (with a TTL when it lapses).

use parking_app::ids::*;
use parking_app::plate_claims::{DriverClaim, PlateClaimStore, PlateClaims};
use parking_app::*;
use parking_core::Plate;

use super::DynamoStore;
use super::errors::from_sdk;
use super::keys::{self, body, n};

impl PlateClaimStore for DynamoStore {
    async fn plate_claims(&self, plate: &Plate) -> StoreResult<Option<PlateClaims>> {
        self.get_opt(&keys::plate_claims(plate, None)).await
    }

    async fn put_plate_claims(&self, claims: &PlateClaims) -> StoreResult<()> {
        // In the review queue while a claim waits for staff.
        let review = claims
            .claims
            .iter()
            .filter(|c| c.review)
            .map(|c| c.claimed_at)
            .min();
        self.put_versioned(
            &keys::plate_claims(&claims.plate, review),
            claims,
            claims.version,
            || Refusal::PlateClaimsChanged,
        )
        .await
    }

    /// One page of the review queue's index partition, oldest first.
    async fn plate_reviews(&self, limit: usize) -> StoreResult<Vec<PlateClaims>> {
        self.query_index_window(keys::PLATE_REVIEWS, "0", "~", Some(limit))
            .await?
            .into_iter()
            .map(body)
            .collect()
    }

    async fn driver_claims(&self, driver: &DriverId) -> StoreResult<Vec<DriverClaim>> {
        self.query_bodies(keys::driver_claims(driver)).await
    }

    async fn put_driver_claim(&self, claim: &DriverClaim) -> StoreResult<()> {
        let mut item = keys::driver_claim(&claim.driver_id, &claim.plate).item(claim)?;
        item.insert("expires_at".into(), n(claim.lapses_at().as_second()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }

    async fn remove_driver_claim(&self, driver: &DriverId, plate: &Plate) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::driver_claim(driver, plate).key()))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }
}
