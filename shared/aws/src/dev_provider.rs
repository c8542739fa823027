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
    /// Each customer's driver.
    drivers: std::collections::BTreeMap<String, DriverId>,
    charges: Vec<DevCharge>,
    refunds: Vec<DevRefund>,
    /// Customers deleted, in order.
    forgotten: Vec<String>,
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

impl ProviderLedger for DevProvider {
    fn books(&self) -> Vec<DriverBooks> {
        let s = lock(&self.state);
        let mut by: std::collections::BTreeMap<DriverId, DriverBooks> = Default::default();
        for c in &s.charges {
            let Some(d) = c.customer.as_ref().and_then(|c| s.drivers.get(c)) else {
                continue;
            };
            let mine: Vec<&DevRefund> = s.refunds.iter().filter(|r| r.charge == c.id).collect();
            let refunded: i64 = mine.iter().map(|r| r.amount.minor).sum();
            let b = by.entry(d.clone()).or_insert_with(|| DriverBooks {
                driver_id: d.clone(),
                charged: 0,
                refunded: 0,
                charges: 0,
                refunds: 0,
                refunds_beyond_charge: 0,
            });
            b.charged += c.amount.minor;
            b.charges += 1;
            b.refunded += refunded;
            b.refunds += mine.len() as u32;
            if refunded > c.amount.minor {
                b.refunds_beyond_charge += 1;
            }
        }
        by.into_values().collect()
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

impl DevProvider {
    /// The customers deleted so far, in order.
    pub fn forgotten(&self) -> Vec<String> {
        lock(&self.state).forgotten.clone()
    }
}

impl PaymentProvider for DevProvider {
    async fn forget_customer(&self, customer: &str) -> Result<(), ProviderError> {
        let mut s = lock(&self.state);
        s.drivers.remove(customer);
        if !s.forgotten.iter().any(|c| c == customer) {
            s.forgotten.push(customer.to_owned());
        }
        Ok(())
    }

    async fn save_card(
        &self,
        driver: &DriverId,
        customer: Option<&str>,
        _token: &PaymentToken,
    ) -> Result<String, ProviderError> {
        let mut s = lock(&self.state);
        let c = match customer {
            Some(c) => c.to_owned(),
            None => {
                s.customers += 1;
                format!("cus_dev_{:06}", s.customers)
            }
        };
        s.drivers.insert(c.clone(), driver.clone());
        Ok(c)
    }

    async fn setup_card(&self, request: &SetupRequest<'_>) -> Result<SetupOutcome, ProviderError> {
        let customer = self
            .save_card(request.driver, request.customer, request.token)
            .await?;
        let token = request.token.expose();
        match token {
            "pm_card_chargeDeclined" => Err(ProviderError::Declined {
                code: "card_declined".into(),
            }),
            // This card needs its holder at every charge; set up, it asks
            // for 3-D Secure once.
            "pm_card_authenticationRequired" | "pm_card_authenticationRequiredOnSetup" => {
                Ok(SetupOutcome {
                    customer,
                    client_secret: Some(format!("seti_dev_{}_secret_dev", request.key)),
                })
            }
            _ => Ok(SetupOutcome {
                customer,
                client_secret: None,
            }),
        }
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
    /// Behaviours set from a time on: for one token, or for all (`None`).
    modes: std::collections::BTreeMap<Option<String>, Behaviour>,
    /// From when each charge lookup looked, in order.
    lookups: Vec<jiff::Timestamp>,
}

impl Plan {
    fn mode(&self, token: Option<&str>) -> Behaviour {
        token
            .and_then(|t| self.modes.get(&Some(t.to_owned())))
            .or_else(|| self.modes.get(&None))
            .copied()
            .unwrap_or(Behaviour::Ok)
    }
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

    /// From when each charge lookup asked for (its `since`), in order.
    pub fn lookups(&self) -> Vec<jiff::Timestamp> {
        lock(&self.plan).lookups.clone()
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
        match p.mode(None) {
            Behaviour::Down => Err(ProviderError::Unavailable("HTTP 503".into())),
            Behaviour::Timeout => Err(ProviderError::Timeout),
            _ => Ok(()),
        }
    }

    /// Before a call that moves money under `key` (a charge names its
    /// card's token).
    fn before_moving(
        &self,
        key: &IdempotencyKey,
        token: Option<&str>,
    ) -> Result<(), ProviderError> {
        {
            let mut p = lock(&self.plan);
            if p.unavailable > 0 {
                p.unavailable -= 1;
                return Err(ProviderError::Unavailable("injected 503".into()));
            }
            if let Some(e) = p.stored.get(key) {
                return Err(e.clone());
            }
            let charging = token.is_some();
            match p.mode(token) {
                Behaviour::Down => {
                    let e = ProviderError::Failed("HTTP 503".into());
                    p.stored.insert(key.clone(), e.clone());
                    return Err(e);
                }
                Behaviour::Timeout => return Err(ProviderError::Timeout),
                Behaviour::Decline if charging => {
                    return Err(ProviderError::Declined {
                        code: "card_declined".into(),
                    });
                }
                Behaviour::AuthenticationRequired if charging => {
                    return Err(ProviderError::AuthenticationRequired);
                }
                Behaviour::RefundsFail if !charging => {
                    return Err(ProviderError::Declined {
                        code: "refund_failed".into(),
                    });
                }
                _ => {}
            }
        }
        let mut p = lock(&self.plan);
        if let Some(e) = p.answers.pop_front() {
            if e.is_stored() {
                p.stored.insert(key.clone(), e.clone());
            }
            return Err(e);
        }
        Ok(())
    }

    fn after<T>(
        &self,
        answer: Result<T, ProviderError>,
        token: Option<&str>,
    ) -> Result<T, ProviderError> {
        let mut p = lock(&self.plan);
        if answer.is_ok() && p.lose_answers > 0 {
            p.lose_answers -= 1;
            return Err(ProviderError::Timeout);
        }
        if answer.is_ok() && p.mode(token) == Behaviour::LoseAnswers {
            return Err(ProviderError::Timeout);
        }
        answer
    }
}

impl<P: Send + Sync> ProviderControl for Faulty<P> {
    fn behave(&self, behaviour: Behaviour, token: Option<&str>) {
        let mut p = lock(&self.plan);
        let key = token.map(str::to_owned);
        // Back up, it still replays what it kept under keys (a 5xx, for a
        // day).
        if behaviour == Behaviour::Ok {
            p.modes.remove(&key);
        } else {
            p.modes.insert(key, behaviour);
        }
    }
}

impl<P: ProviderLedger> ProviderLedger for Faulty<P> {
    fn books(&self) -> Vec<DriverBooks> {
        self.inner.books()
    }
}

impl<P: PaymentProvider> PaymentProvider for Faulty<P> {
    async fn forget_customer(&self, customer: &str) -> Result<(), ProviderError> {
        self.before()?;
        self.inner.forget_customer(customer).await
    }

    async fn save_card(
        &self,
        driver: &DriverId,
        customer: Option<&str>,
        token: &PaymentToken,
    ) -> Result<String, ProviderError> {
        self.before()?;
        self.inner.save_card(driver, customer, token).await
    }

    async fn setup_card(&self, request: &SetupRequest<'_>) -> Result<SetupOutcome, ProviderError> {
        self.before()?;
        self.inner.setup_card(request).await
    }

    async fn charge(&self, request: &ChargeRequest<'_>) -> Result<ProviderCharge, ProviderError> {
        let token = Some(request.token.expose());
        self.before_moving(request.key, token)?;
        let answer = self.inner.charge(request).await;
        self.after(answer, token)
    }

    async fn find_charge(
        &self,
        request: &ChargeRequest<'_>,
        since: jiff::Timestamp,
    ) -> Result<Option<ProviderCharge>, ProviderError> {
        lock(&self.plan).lookups.push(since);
        self.before()?;
        self.inner.find_charge(request, since).await
    }

    async fn refund(&self, request: &RefundRequest<'_>) -> Result<ProviderRefund, ProviderError> {
        self.before_moving(request.key, None)?;
        let answer = self.inner.refund(request).await;
        self.after(answer, None)
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
