//! `allow-lists`: the table's stream, filtered to stays, reservations and
//! devices registered in a lot, kept as each lot's offline allow-list and
//! sent to its gate devices' shadows when the list changes.
//!
//! Composition root only (`parking_aws::lambda::run_allow_lists`); the
//! behaviour is `parking_app::usecases::allow_list`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    parking_aws::lambda::run_allow_lists().await
}
