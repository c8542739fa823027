//! The in-memory twin: plates' open claims and each claimant's copy.

use parking_app::plate_claims::{DriverClaim, PlateClaimStore, PlateClaims};

use super::*;

impl PlateClaimStore for MemoryStore {
    async fn plate_claims(&self, plate: &Plate) -> StoreResult<Option<PlateClaims>> {
        let held = self.state().plate_claims.get(&plate.key()).cloned();
        self.read_units(get_units(&[held.as_ref().map_or(0, item_bytes)]));
        Ok(held)
    }

    async fn put_plate_claims(&self, claims: &PlateClaims) -> StoreResult<()> {
        within_limit("plate_claims", claims)?;
        self.write_units(write_units(&[item_bytes(claims)], false));
        let mut s = self.state();
        let key = claims.plate.key();
        let held = s.plate_claims.get(&key);
        if held == Some(claims) {
            return Ok(());
        }
        if held.map_or(0, |h| h.version) + 1 != claims.version {
            return Err(StoreError::Conflict(Refusal::PlateClaimsChanged));
        }
        s.plate_claims.insert(key, claims.clone());
        Ok(())
    }

    async fn plate_reviews(&self, limit: usize) -> StoreResult<Vec<PlateClaims>> {
        self.read();
        let s = self.state();
        let mut v: Vec<(Timestamp, PlateClaims)> = s
            .plate_claims
            .values()
            .filter_map(|c| {
                let since = c
                    .claims
                    .iter()
                    .filter(|c| c.review)
                    .map(|c| c.claimed_at)
                    .min()?;
                Some((since, c.clone()))
            })
            .collect();
        v.sort_by_key(|a| (a.0, a.1.plate.key()));
        Ok(v.into_iter().take(limit).map(|(_, c)| c).collect())
    }

    async fn driver_claims(&self, driver: &DriverId) -> StoreResult<Vec<DriverClaim>> {
        self.read();
        Ok(self
            .state()
            .driver_claims
            .range((driver.clone(), String::new())..)
            .take_while(|((d, _), _)| d == driver)
            .map(|(_, c)| c.clone())
            .collect())
    }

    async fn put_driver_claim(&self, claim: &DriverClaim) -> StoreResult<()> {
        self.write();
        self.state()
            .driver_claims
            .insert((claim.driver_id.clone(), claim.plate.key()), claim.clone());
        Ok(())
    }

    async fn remove_driver_claim(&self, driver: &DriverId, plate: &Plate) -> StoreResult<()> {
        self.write();
        self.state()
            .driver_claims
            .remove(&(driver.clone(), plate.key()));
        Ok(())
    }
}
