//! Cameras' tracks: read alone, written in a plate's timeline commit
//! (`history.rs`).

use parking_app::StoreResult;
use parking_app::ids::{DeviceId, LotId, TrackId};
use parking_app::passages::{Track, TrackStore};

use super::DynamoStore;
use super::keys;

impl TrackStore for DynamoStore {
    async fn track(
        &self,
        lot_id: &LotId,
        device_id: &DeviceId,
        track: &TrackId,
    ) -> StoreResult<Option<Track>> {
        self.get_opt(&keys::track(lot_id, device_id, track)).await
    }
}
