//! Cameras' tracks: read alone, written in a plate's timeline commit
//! (`history.rs`).

use parking_app::StoreResult;
use parking_app::history::PlateView;
use parking_app::ids::{DeviceId, LotId, TrackId};
use parking_app::passages::{Track, TrackStore};
use parking_core::Plate;

use super::DynamoStore;
use super::keys::{self, body};
use super::reads::kind;

impl TrackStore for DynamoStore {
    async fn track(
        &self,
        lot_id: &LotId,
        device_id: &DeviceId,
        track: &TrackId,
    ) -> StoreResult<Option<Track>> {
        self.get_opt(&keys::track(lot_id, device_id, track)).await
    }

    /// One `BatchGetItem`, strongly consistent: the track and the plate's
    /// head, registration and claims.
    async fn track_and_view(
        &self,
        lot_id: &LotId,
        device_id: &DeviceId,
        track: &TrackId,
        plate: &Plate,
    ) -> StoreResult<(Option<Track>, PlateView)> {
        let wanted = vec![
            keys::track(lot_id, device_id, track).key(),
            keys::timeline(lot_id, plate, false).key(),
            keys::plate(plate).key(),
            keys::plate_claims(plate, None).key(),
        ];
        let mut found = None;
        let mut view = PlateView::default();
        for item in self.batch_get(wanted).await? {
            match kind(&item) {
                Some("track") => found = Some(body(item)?),
                Some("timeline") => view.timeline = Some(body(item)?),
                Some("plate") => view.owner = Some(body(item)?),
                Some("plate_claims") => view.claims = Some(body(item)?),
                _ => {}
            }
        }
        Ok((found, view))
    }
}
