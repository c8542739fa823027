//! The in-memory twin: cameras' tracks (written by timeline commits,
//! `history.rs`).

use parking_app::passages::{Track, TrackStore};

use super::*;

impl TrackStore for MemoryStore {
    async fn track(
        &self,
        lot_id: &LotId,
        device_id: &DeviceId,
        track: &TrackId,
    ) -> StoreResult<Option<Track>> {
        let found = self
            .state()
            .tracks
            .get(&(lot_id.clone(), device_id.clone(), track.clone()))
            .cloned();
        self.read_units(get_units(&[found.as_ref().map_or(0, item_bytes)]));
        Ok(found)
    }
}
