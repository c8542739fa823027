//! The cross-crate test suite: one binary.

mod api;
mod backlog;
mod conformance;
mod cost;
mod count;
mod devices;
mod dynamodb;
mod e2e;
mod events;
mod faults;
mod flags;
mod forecast;
mod history;
mod notifications;
mod order;
mod payments;
mod permissions;
mod settle;
mod simulate;
mod staff;
mod sweeps;
mod usecases;

/// Runs each conformance test against the in-memory store and against
/// DynamoDB on the local endpoint (a fresh table each).
macro_rules! against_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn memory() {
                super::conformance::$name(&parking_aws::MemoryStore::default()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn dynamodb() {
                let store = parking_tests::fresh_dynamo_store(None).await;
                super::conformance::$name(&store).await;
            }
        }
    )*};
}

against_both_stores!(
    records_round_trip,
    one_open_session_per_plate_and_lot,
    the_same_plate_at_two_gates_opens_once,
    device_events_are_processed_at_most_once,
    a_refused_change_records_no_event,
    the_ledger_forgets_at_the_expiry_second,
    repeating_a_write_reports_the_callers_own_success,
    reservations_never_oversell,
    reservations_follow_the_stored_lot,
    a_lot_with_no_reservable_bays_takes_no_reservation,
    fifty_attempts_on_the_last_slot_one_wins,
    a_plate_and_a_card_belong_to_one_driver,
    session_changes_are_guarded_by_state_and_version,
    a_sessions_identity_never_changes,
    two_writers_on_one_session_one_wins,
    payments_are_idempotent,
    bay_readings_never_go_back_in_sequence,
    a_rebooted_sensor_is_believed_again,
    occupancy_follows_every_reading_exactly,
    store_errors_never_show_a_plate,
);
