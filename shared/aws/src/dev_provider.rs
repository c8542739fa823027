//! The development payment provider, in memory, and a wrapper that makes
//! any provider misbehave on request.
//!
//! Like the fakes settlement is tested against, the development provider
//! does *not* honour idempotency keys (a second charge under one key is a
//! second charge) and refunds whatever it is asked to, however much was
//! charged: exactly-once charging and the refund limit have to come from
//! the caller.

use std::sync::{Arc, Mutex};

use parking_app::settlement::*;
use parking_app::{DriverId, IdempotencyKey, PaymentToken};
use parking_core::Money;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Test tokens: `pm_card_chargeCustomerFail` and `pm_card_chargeDeclined`
/// are declined when charged, `pm_card_authenticationRequired` needs the
/// cardholder; any other token is charged. Clones share their state.
#[derive(Debug, Default, Clone)]
pub struct DevProvider {
    state: Arc<Mutex<DevState>>,
}

#[derive(Debug, Default)]
struct DevState {
    customers: u32,
    charges: Vec<DevCharge>,
    refunds: Vec<DevRefund>,
}

#[derive(Debug)]
struct DevCharge {
    id: String,
    key: IdempotencyKey,
    customer: Option<String>,
    amount: Money,
}

#[derive(Debug, Clone)]
struct DevRefund {
    id: String,
    charge: String,
    key: IdempotencyKey,
    amount: Money,
}

impl DevProvider {
    /// Every successful charge, in order.
    pub fn charges(&self) -> Vec<ProviderCharge> {
        lock(&self.state)
            .charges
            .iter()
            .map(|c| ProviderCharge {
                id: c.id.clone(),
                amount: c.amount,
            })
            .collect()
    }

    /// Every refund, in order.
    pub fn refunds(&self) -> Vec<ProviderRefund> {
        lock(&self.state)
            .refunds
            .iter()
            .map(|r| ProviderRefund {
                id: r.id.clone(),
                amount: r.amount,
            })
            .collect()
    }
}

fn refusal(token: &str) -> Option<ProviderError> {
    match token {
        "pm_card_chargeCustomerFail" | "pm_card_chargeDeclined" => Some(ProviderError::Declined {
            code: "card_declined".into(),
        }),
        "pm_card_authenticationRequired" => Some(ProviderError::AuthenticationRequired),
        _ => None,
    }
}

impl PaymentProvider for DevProvider {
    async fn save_card(
        &self,
        _driver: &DriverId,
        customer: Option<&str>,
        _token: &PaymentToken,
    ) -> Result<String, ProviderError> {
        if let Some(c) = customer {
            return Ok(c.to_owned());
        }
        let mut s = lock(&self.state);
        s.customers += 1;
        Ok(format!("cus_dev_{:06}", s.customers))
    }

    async fn charge(&self, request: &ChargeRequest<'_>) -> Result<ProviderCharge, ProviderError> {
        if let Some(e) = refusal(request.token.expose()) {
            return Err(e);
        }
        let mut s = lock(&self.state);
        let charge = DevCharge {
            id: format!("pi_dev_{:06}", s.charges.len() + 1),
            key: request.key.clone(),
            customer: request.customer.map(str::to_owned),
            amount: request.amount,
        };
        let made = ProviderCharge {
            id: charge.id.clone(),
            amount: charge.amount,
        };
        s.charges.push(charge);
        Ok(made)
    }

    async fn find_charge(
        &self,
        request: &ChargeRequest<'_>,
        _since: jiff::Timestamp,
    ) -> Result<Option<ProviderCharge>, ProviderError> {
        Ok(lock(&self.state)
            .charges
            .iter()
            .find(|c| &c.key == request.key && c.customer.as_deref() == request.customer)
            .map(|c| ProviderCharge {
                id: c.id.clone(),
                amount: c.amount,
            }))
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> Result<ProviderRefund, ProviderError> {
        let mut s = lock(&self.state);
        if !s.charges.iter().any(|c| c.id == request.charge_id) {
            return Err(ProviderError::Request(format!(
                "no charge to refund: {}",
                request.charge_id
            )));
        }
        let refund = DevRefund {
            id: format!("re_dev_{:06}", s.refunds.len() + 1),
            charge: request.charge_id.to_owned(),
            key: request.key.clone(),
            amount: request.amount,
        };
        s.refunds.push(refund.clone());
        Ok(ProviderRefund {
            id: refund.id,
            amount: refund.amount,
        })
    }

    async fn attempt_of(&self, charge_id: &str) -> Result<Option<IdempotencyKey>, ProviderError> {
        Ok(lock(&self.state)
            .charges
            .iter()
            .find(|c| c.id == charge_id)
            .map(|c| c.key.clone()))
    }

    async fn find_refund(
        &self,
        request: &RefundRequest<'_>,
    ) -> Result<Option<ProviderRefund>, ProviderError> {
        Ok(lock(&self.state)
            .refunds
            .iter()
            .find(|r| r.charge == request.charge_id && &r.key == request.key)
            .map(|r| ProviderRefund {
                id: r.id.clone(),
                amount: r.amount,
            }))
    }
}

/// Wraps a provider to misbehave on request: calls that fail before
/// reaching it (a 5xx), and charges or refunds that it makes whose answers
/// are then lost (a timeout after the money moved). Clones share
/// their plan.
#[derive(Debug, Default, Clone)]
pub struct Faulty<P> {
    inner: P,
    plan: Arc<Mutex<Plan>>,
}

#[derive(Debug, Default)]
struct Plan {
    lose_answers: u32,
    unavailable: u32,
    /// Answers for the next calls that move money, in order.
    answers: std::collections::VecDeque<ProviderError>,
    /// Failures kept under their key, replayed to every later call with
    /// it (as Stripe keeps a 5xx for a day).
    stored: std::collections::HashMap<IdempotencyKey, ProviderError>,
}

impl<P> Faulty<P> {
    pub fn new(inner: P) -> Self {
        Faulty {
            inner,
            plan: Arc::default(),
        }
    }

    /// The provider it wraps.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The next `n` charges or refunds are made, and their answers lost:
    /// the caller sees a timeout.
    pub fn lose_answers(&self, n: u32) {
        lock(&self.plan).lose_answers = n;
    }

    /// The next `n` calls fail without reaching the provider.
    pub fn fail_next(&self, n: u32) {
        lock(&self.plan).unavailable = n;
    }

    /// The next calls that move money (charges and refunds) answer these
    /// errors in order, without acting. One the provider keeps under its
    /// key ([`ProviderError::is_stored`], a 5xx) is replayed to every
    /// later call with that key.
    pub fn answer_next(&self, errors: impl IntoIterator<Item = ProviderError>) {
        lock(&self.plan).answers.extend(errors);
    }

    fn before(&self) -> Result<(), ProviderError> {
        let mut p = lock(&self.plan);
        if p.unavailable > 0 {
            p.unavailable -= 1;
            return Err(ProviderError::Unavailable("injected 503".into()));
        }
        Ok(())
    }

    /// Before a call that moves money under `key`.
    fn before_moving(&self, key: &IdempotencyKey) -> Result<(), ProviderError> {
        self.before()?;
        let mut p = lock(&self.plan);
        if let Some(e) = p.stored.get(key) {
            return Err(e.clone());
        }
        if let Some(e) = p.answers.pop_front() {
            if e.is_stored() {
                p.stored.insert(key.clone(), e.clone());
            }
            return Err(e);
        }
        Ok(())
    }

    fn after<T>(&self, answer: Result<T, ProviderError>) -> Result<T, ProviderError> {
        let mut p = lock(&self.plan);
        if answer.is_ok() && p.lose_answers > 0 {
            p.lose_answers -= 1;
            return Err(ProviderError::Timeout);
        }
        answer
    }
}

impl<P: PaymentProvider> PaymentProvider for Faulty<P> {
    async fn save_card(
        &self,
        driver: &DriverId,
        customer: Option<&str>,
        token: &PaymentToken,
    ) -> Result<String, ProviderError> {
        self.before()?;
        self.inner.save_card(driver, customer, token).await
    }

    async fn charge(&self, request: &ChargeRequest<'_>) -> Result<ProviderCharge, ProviderError> {
        self.before_moving(request.key)?;
        let answer = self.inner.charge(request).await;
        self.after(answer)
    }

    async fn find_charge(
        &self,
        request: &ChargeRequest<'_>,
        since: jiff::Timestamp,
    ) -> Result<Option<ProviderCharge>, ProviderError> {
        self.before()?;
        self.inner.find_charge(request, since).await
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> Result<ProviderRefund, ProviderError> {
        self.before_moving(request.key)?;
        let answer = self.inner.refund(request).await;
        self.after(answer)
    }

    async fn attempt_of(&self, charge_id: &str) -> Result<Option<IdempotencyKey>, ProviderError> {
        self.before()?;
        self.inner.attempt_of(charge_id).await
    }

    async fn find_refund(
        &self,
        request: &RefundRequest<'_>,
    ) -> Result<Option<ProviderRefund>, ProviderError> {
        self.before()?;
        self.inner.find_refund(request).await
    }
}
