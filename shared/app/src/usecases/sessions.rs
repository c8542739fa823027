//! Operators correct what a camera misread.

use parking_core::{Plate, PlateError};

use crate::ids::{LotId, SessionId};
use crate::model::{Applied, EventRef, Session};
use crate::ports::{Clock, RecordStore, Refusal, StoreError};
use crate::rules;

/// Why a plate was not corrected.
#[derive(Debug, thiserror::Error)]
pub enum CorrectError {
    #[error("plate: {0}")]
    BadPlate(#[from] PlateError),
    #[error("session {0} does not exist")]
    UnknownSession(SessionId),
    #[error("the corrected plate already has an open session in lot {0}")]
    PlateInUse(LotId),
    #[error("session {0} changed while it was being corrected; try again")]
    Changed(SessionId),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(StoreError),
}

/// The outcome of a correction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Corrected {
    /// The session now carries the corrected plate.
    Done(Box<Session>),
    /// The event asking for it was processed before.
    Duplicate,
}

/// Corrects a session's plate, moving an open session's hold on its plate
/// to the corrected one in the same write.
///
/// # Errors
///
/// [`CorrectError`]: the plate does not parse or is unchanged, the session
/// is unknown or changed meanwhile, the corrected plate already has an
/// open session in the lot, or the store failed.
pub async fn correct_plate<S: RecordStore>(
    store: &S,
    clock: &impl Clock,
    session_id: &SessionId,
    plate_text: &str,
    cause: Option<&EventRef>,
) -> Result<Corrected, CorrectError> {
    let plate = Plate::parse(plate_text)?;
    let current = store.get_session(session_id).await.map_err(|e| match e {
        StoreError::NotFound { .. } => CorrectError::UnknownSession(session_id.clone()),
        e => CorrectError::Store(e),
    })?;
    let at = clock.now();
    let next = rules::corrected(&current, &plate, at).map_err(|e| match e {
        StoreError::Invalid { reason } => CorrectError::Invalid(reason),
        e => CorrectError::Store(e),
    })?;
    match store.correct_plate(&current, &plate, at, cause).await {
        Ok(Applied::Done) => Ok(Corrected::Done(Box::new(next))),
        Ok(Applied::Duplicate) => Ok(Corrected::Duplicate),
        Err(StoreError::Conflict(Refusal::PlateHasOpenSession { lot_id })) => {
            Err(CorrectError::PlateInUse(lot_id))
        }
        Err(StoreError::Conflict(Refusal::StaleSession { session_id, .. })) => {
            Err(CorrectError::Changed(session_id))
        }
        Err(e) => Err(CorrectError::Store(e)),
    }
}
