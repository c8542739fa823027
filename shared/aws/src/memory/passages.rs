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

    async fn track_and_view(
        &self,
        lot_id: &LotId,
        device_id: &DeviceId,
        track: &TrackId,
        plate: &Plate,
    ) -> StoreResult<(Option<Track>, PlateView)> {
        let s = self.state();
        let key = plate.key();
        let found = s
            .tracks
            .get(&(lot_id.clone(), device_id.clone(), track.clone()))
            .cloned();
        let view = PlateView {
            timeline: s.timelines.get(&(lot_id.clone(), key.clone())).cloned(),
            owner: s.plates.get(&key).cloned(),
            claims: s.plate_claims.get(&key).cloned(),
        };
        // One batch get: the track, the timeline, the registration, the
        // claims.
        self.read_units(get_units(&[
            found.as_ref().map_or(0, item_bytes),
            view.timeline.as_ref().map_or(0, item_bytes),
            view.owner.as_ref().map_or(0, item_bytes),
            view.claims.as_ref().map_or(0, item_bytes),
        ]));
        Ok((found, view))
    }
}
