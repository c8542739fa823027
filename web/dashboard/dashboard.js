// The operator's dashboard: every lot in the operator's scope at a glance,
// from the operator API, refreshed every 30 seconds. Plain script, no
// build step; every figure is written as text (never as markup).
"use strict";

const REFRESH_MS = 30000;
const TOKEN_KEY = "seamless-parking.token";
const LANG_KEY = "seamless-parking.lang";
// The sign-in under way: the PKCE verifier and the state sent with it.
const PENDING_KEY = "seamless-parking.sign-in";

// Where staff sign in (`sign-in.json`, written beside the page at deploy:
// Cognito's hosted UI, authorization code with PKCE). Without it (a local
// `parkctl serve --dev-claims`) the page takes a pasted token.
let signInService = null;

const TEXT = {
  en: {
    title: "Seamless Parking — lots",
    token: "Operator token",
    signIn: "Sign in",
    signOut: "Sign out",
    updated: "Updated",
    noLots: "No lots in your scope.",
    capacity: "bays",
    live: "Now",
    occupied: "Occupied",
    free: "Free",
    unknown: "Unknown",
    freeEstimate: "Can take",
    degraded: "Degraded: sensors cannot tell, counted at the gates",
    healthy: "Sensors healthy",
    offline: "offline device(s)",
    allOnline: "All devices online",
    today: "Today",
    entries: "Entries",
    exits: "Exits",
    revenue: "Revenue",
    cardFailed: "Card failed",
    reviews: "Needs a person",
    failures: "Failed card payments (7 days)",
    none: "None.",
    plate: "Plate",
    state: "State",
    entered: "Entered",
    fee: "Fee",
    why: "Why",
    resolve: "Resolve",
    chart: "Occupancy by hour today",
    chartOccupied: "Occupied (mean)",
    chartForecast: "Forecast and its range",
    noForecast: "No forecast yet.",
    pricing: "Price suggestion by demand",
    pricingFrom: "Would take effect {at}, if an operator schedules it (nothing is applied).",
    pricingHeld: "No change suggested.",
    pricingWaiting: "No suggestion: {why}",
    band: "Band",
    bandOccupied: "Occupied",
    bandNow: "Unit price",
    bandNext: "Suggested",
    bandExpected: "Expected",
    decisions: {
      raise: "up a step", lower: "down a step", lower_far: "down two steps", hold: "in the target",
      at_bound: "at its bound", free: "free", too_little_data: "too little data",
    },
    webhooks: "Webhooks",
    unpaid: "Unpaid register (the operator's lots in your scope)",
    unpaidLot: "Lot",
    unpaidPlate: "Plate",
    unpaidReason: "Why",
    unpaidAmount: "Owed",
    unpaidExit: "Left",
    unpaidReasons: { kiosk_unpaid: "not paid at the kiosk", card_failed: "card failed" },
    webhookUrl: "Address",
    webhookEvents: "Events",
    webhookState: "State",
    webhookFailures: "Failures in a row",
    webhookLastSuccess: "Last delivered",
    webhookLastFailure: "Last failure",
    webhookMissed: "Missed",
    webhookOn: "on",
    webhookOff: "switched off",
    webhookEnable: "Switch on",
    webhookReplay: "Replay missed",
    resolveTitle: "Resolve a session",
    decision: "Decision",
    charge: "Charge the priced fee",
    void: "Void: nothing is owed",
    note: "Note (kept in the audit trail)",
    cancel: "Cancel",
    send: "Resolve",
    signInFirst: "Sign in with an operator token.",
    signInHosted: "Sign in to see your lots.",
    signInFailed: "Signing in did not complete; sign in again.",
    refused: "The operator API refused the token (HTTP {status}).",
    failed: "The operator API could not be reached: {why}",
    states: {
      open: "open", closing: "closing", priced: "priced", paid: "paid",
      payment_failed: "payment failed", needs_review: "needs review", voided: "voided",
      entry_missing: "entry missing", exit_missing: "exit missing", superseded: "superseded",
    },
  },
  ja: {
    title: "Seamless Parking — 駐車場一覧",
    token: "オペレーター トークン",
    signIn: "サインイン",
    signOut: "サインアウト",
    updated: "更新",
    noLots: "担当の駐車場はありません。",
    capacity: "台",
    live: "現在",
    occupied: "駐車中",
    free: "空き",
    unknown: "不明",
    freeEstimate: "受入可能",
    degraded: "縮退運転: センサー不明のためゲートで集計",
    healthy: "センサー正常",
    offline: "台の機器がオフライン",
    allOnline: "全機器オンライン",
    today: "本日",
    entries: "入庫",
    exits: "出庫",
    revenue: "売上",
    cardFailed: "カード決済失敗",
    reviews: "要対応",
    failures: "カード決済の失敗 (7日間)",
    none: "ありません。",
    plate: "ナンバー",
    state: "状態",
    entered: "入庫時刻",
    fee: "料金",
    why: "理由",
    resolve: "対応する",
    chart: "本日の時間帯別の駐車台数",
    chartOccupied: "駐車台数 (平均)",
    chartForecast: "予測とその幅",
    noForecast: "予測はまだありません。",
    pricing: "需要に応じた料金の提案",
    pricingFrom: "オペレーターが予約すれば {at} から適用されます (自動では適用されません)。",
    pricingHeld: "変更の提案はありません。",
    pricingWaiting: "提案はありません: {why}",
    band: "時間帯",
    bandOccupied: "稼働率",
    bandNow: "単価",
    bandNext: "提案",
    bandExpected: "予想稼働率",
    decisions: {
      raise: "1段階値上げ", lower: "1段階値下げ", lower_far: "2段階値下げ", hold: "目標内",
      at_bound: "上限・下限", free: "無料", too_little_data: "データ不足",
    },
    webhooks: "Webhook",
    unpaid: "未精算の記録（担当する同じ事業者の駐車場）",
    unpaidLot: "駐車場",
    unpaidPlate: "ナンバー",
    unpaidReason: "理由",
    unpaidAmount: "未精算額",
    unpaidExit: "出庫",
    unpaidReasons: { kiosk_unpaid: "精算機で未精算", card_failed: "カード決済失敗" },
    webhookUrl: "送信先",
    webhookEvents: "イベント",
    webhookState: "状態",
    webhookFailures: "連続失敗",
    webhookLastSuccess: "最終送信成功",
    webhookLastFailure: "最終失敗",
    webhookMissed: "未送信",
    webhookOn: "有効",
    webhookOff: "停止中",
    webhookEnable: "再開する",
    webhookReplay: "未送信を再送",
    resolveTitle: "セッションの対応",
    decision: "対応",
    charge: "算定済みの料金を請求",
    void: "取消: 請求なし",
    note: "メモ (監査記録に残ります)",
    cancel: "キャンセル",
    send: "確定",
    signInFirst: "オペレーター トークンでサインインしてください。",
    signInHosted: "サインインすると担当の駐車場が表示されます。",
    signInFailed: "サインインが完了しませんでした。もう一度サインインしてください。",
    refused: "オペレーター API がトークンを拒否しました (HTTP {status})。",
    failed: "オペレーター API に接続できません: {why}",
    states: {
      open: "入庫中", closing: "精算中", priced: "料金確定", paid: "支払済",
      payment_failed: "決済失敗", needs_review: "要確認", voided: "取消",
      entry_missing: "入庫記録なし", exit_missing: "出庫記録なし", superseded: "置換済",
    },
  },
};

let lang = localStorage.getItem(LANG_KEY) || ((navigator.language || "en").startsWith("ja") ? "ja" : "en");
let resolving = null;

const t = (key) => TEXT[lang][key] ?? TEXT.en[key] ?? key;
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

// Amounts arrive in minor units (yen have none, dollars have cents).
function money(minor, currency) {
  try {
    const format = new Intl.NumberFormat(lang === "ja" ? "ja-JP" : "en-US", { style: "currency", currency });
    const digits = format.resolvedOptions().maximumFractionDigits;
    return format.format(minor / 10 ** digits);
  } catch {
    return `${currency} ${minor}`;
  }
}

function count(n) {
  return new Intl.NumberFormat(lang === "ja" ? "ja-JP" : "en-US").format(n);
}

function localTime(iso, zone) {
  return new Intl.DateTimeFormat(lang === "ja" ? "ja-JP" : "en-GB", {
    timeZone: zone, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  }).format(new Date(iso));
}

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { Accept: "application/json", Authorization: `Bearer ${token}` };
  if (options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers });
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

async function operatorLots() {
  const lots = [];
  let cursor = null;
  do {
    const query = new URLSearchParams({ limit: "100" });
    if (cursor) query.set("cursor", cursor);
    const page = await api(`/v1/operator/lots?${query}`);
    lots.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return lots;
}

function figure(key, value, label, text) {
  return el("div", {},
    el("dt", { text: label }),
    el("dd", { "data-figure": key, "data-value": String(value), text: text ?? count(value) }));
}

// Why a card payment failed, in the page's language; the API's own
// words for anything else.
function failureText(reason) {
  if (!reason) return "";
  if (lang !== "ja") return reason;
  if (reason.includes("declined")) return "カードが拒否されました";
  if (reason.includes("authenticate")) return "カード会員の本人認証が必要です";
  if (reason.includes("gave up") || reason.includes("given up")) return "再試行を終了しました";
  return reason;
}

function sessionsTable(list, zone, withResolve, lotId) {
  if (list.items.length === 0) return el("p", { class: "empty", text: t("none") });
  const head = el("tr", {},
    el("th", { text: t("plate") }), el("th", { text: t("state") }), el("th", { text: t("entered") }),
    el("th", { text: withResolve ? t("fee") : t("why") }), withResolve ? el("th", {}) : null);
  const table = el("table", {}, el("thead", {}, head));
  const body = el("tbody");
  for (const s of list.items) {
    const states = TEXT[lang].states;
    const row = el("tr", { "data-session": s.id },
      el("td", { text: s.plate }),
      el("td", { text: states[s.state] || s.state }),
      el("td", { text: localTime(s.entry_at, zone) }),
      withResolve
        ? el("td", { class: "num", text: s.fee ? money(s.fee.amount, s.fee.currency) : "—" })
        : el("td", { text: failureText(s.payment_failure) }));
    if (withResolve) {
      const button = el("button", { type: "button", "data-resolve": s.id, text: t("resolve") });
      button.addEventListener("click", () => openResolve(lotId, s));
      row.append(el("td", {}, button));
    }
    body.append(row);
  }
  table.append(body);
  return table;
}

function chart(d) {
  const width = 480, height = 170, left = 28, bottom = 18, top = 8;
  const plotW = width - left - 4, plotH = height - top - bottom;
  const hours = d.hours;
  const max = Math.max(d.lot.capacity, ...hours.map((h) => Math.max(h.occupied ?? 0, h.high ?? 0))) || 1;
  const y = (v) => top + plotH - (v / max) * plotH;
  const step = plotW / Math.max(hours.length, 1);
  const x = (i) => left + i * step;
  const root = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": t("chart") });
  root.append(svg("line", { class: "axis", x1: left, y1: y(0), x2: width - 4, y2: y(0) }));
  root.append(svg("line", { class: "axis", x1: left, y1: y(d.lot.capacity), x2: width - 4, y2: y(d.lot.capacity) }));
  const cap = svg("text", { x: 2, y: y(d.lot.capacity) + 3 });
  cap.textContent = String(d.lot.capacity);
  root.append(cap);
  const withForecast = hours.map((h, i) => [h, i]).filter(([h]) => h.forecast !== null);
  if (withForecast.length > 0) {
    const upper = withForecast.map(([h, i]) => `${x(i) + step / 2},${y(h.high)}`);
    const lower = withForecast.slice().reverse().map(([h, i]) => `${x(i) + step / 2},${y(h.low)}`);
    root.append(svg("polygon", { class: "band", points: [...upper, ...lower].join(" ") }));
  }
  hours.forEach((h, i) => {
    if (h.occupied !== null) {
      const bar = svg("rect", {
        class: "bar", x: x(i) + 1, y: y(h.occupied), width: Math.max(step - 2, 1),
        height: Math.max(y(0) - y(h.occupied), 0), "data-hour": i, "data-occupied": h.occupied,
      });
      root.append(bar);
    }
    if (i % 3 === 0) {
      const label = svg("text", { x: x(i) + 1, y: height - 5 });
      label.textContent = String(i).padStart(2, "0");
      root.append(label);
    }
  });
  if (withForecast.length > 0) {
    const line = withForecast.map(([h, i]) => `${x(i) + step / 2},${y(h.forecast)}`).join(" ");
    root.append(svg("polyline", { class: "line", points: line, "data-forecast-hours": withForecast.length }));
  }
  const legend = el("div", { class: "legend" },
    el("span", {}, el("span", { class: "swatch swatch-bar" }), t("chartOccupied")),
    el("span", {}, el("span", { class: "swatch swatch-forecast" }), t("chartForecast")));
  const parts = [root, legend];
  if (withForecast.length === 0) parts.push(el("p", { class: "empty", "data-no-forecast": "", text: t("noForecast") }));
  return parts;
}

function lotCard(d, priced, hooks, unpaid) {
  const a = d.availability;
  const r = d.today;
  const zone = d.lot.time_zone;
  const badges = el("div", { class: "badges" },
    el("span", { class: a.degraded ? "badge warn" : "badge", "data-figure": "degraded", "data-value": String(a.degraded),
      text: a.degraded ? t("degraded") : t("healthy") }),
    el("span", { class: a.offline_devices.length ? "badge bad" : "badge", "data-figure": "offline",
      "data-value": String(a.offline_devices.length),
      text: a.offline_devices.length ? `${a.offline_devices.length} ${t("offline")}` : t("allOnline") }));
  const card = el("section", { class: "lot", "data-lot": d.lot.id },
    el("h2", { text: `${d.lot.name} (${d.lot.id})` }),
    el("p", { class: "empty", text: `${count(d.lot.capacity)} ${t("capacity")} · ${zone}` }),
    badges,
    el("h3", { text: t("live") }),
    el("dl", { class: "figures" },
      figure("occupied", a.occupied, t("occupied")),
      figure("free", a.free, t("free")),
      figure("unknown", a.unknown, t("unknown")),
      figure("free_estimate", a.free_estimate, t("freeEstimate"))),
    el("h3", { text: `${t("today")} (${r.date})` }),
    el("dl", { class: "figures" },
      figure("entries", r.entries, t("entries")),
      figure("exits", r.exits, t("exits")),
      figure("revenue", r.revenue, t("revenue"), money(r.revenue, r.currency)),
      figure("card_failed", r.card_failed, t("cardFailed"), money(r.card_failed, r.currency))),
    el("h3", { text: t("chart") }),
    ...chart(d),
    el("h3", {}, document.createTextNode(`${t("reviews")} `),
      el("span", { "data-figure": "reviews", "data-value": String(d.reviews.count), text: `(${count(d.reviews.count)}${d.reviews.more ? "+" : ""})` })),
    sessionsTable(d.reviews, zone, true, d.lot.id),
    el("h3", {}, document.createTextNode(`${t("failures")} `),
      el("span", { "data-figure": "payment_failures", "data-value": String(d.payment_failures.count),
        text: `(${count(d.payment_failures.count)})` })),
    sessionsTable(d.payment_failures, zone, false, d.lot.id),
    ...pricingSection(priced, zone, r.currency),
    ...webhooksSection(hooks, zone, d.lot.id),
    ...unpaidSection(unpaid, zone));
  return card;
}

// Price suggestions read a month of stays: asked once an hour per lot,
// not at every refresh.
const SUGGESTION_MS = 3600000;
const suggestions = new Map();

async function suggestion(lotId) {
  const kept = suggestions.get(lotId);
  if (kept && Date.now() - kept.at < SUGGESTION_MS) return kept;
  let got;
  try {
    got = { at: Date.now(), value: await api(`/v1/operator/lots/${encodeURIComponent(lotId)}/pricing/suggestion`) };
  } catch (e) {
    if (!(e instanceof ApiError) || e.status === 401 || e.status === 403) throw e;
    got = { at: Date.now(), problem: e.problem?.detail || e.message };
    // Only an answer that will not change soon (a version waiting, a
    // flat tariff) is kept for the hour; a failure is asked again.
    if (e.status !== 409) return got;
  }
  suggestions.set(lotId, got);
  return got;
}

function percent(x) {
  return x === null || x === undefined ? "–" : `${Math.round(x * 100)}%`;
}

function pricingSection(s, zone, currency) {
  const parts = [el("h3", { text: t("pricing") })];
  if (!s) return parts;
  if (s.problem) {
    parts.push(el("p", { class: "empty", "data-pricing": "waiting", text: t("pricingWaiting").replace("{why}", s.problem) }));
    return parts;
  }
  const v = s.value;
  parts.push(el("p", { class: "empty", "data-pricing": v.changes ? "changes" : "held",
    text: v.changes ? t("pricingFrom").replace("{at}", localTime(v.effective_from, zone)) : t("pricingHeld") }));
  const decisions = t("decisions");
  const rows = v.bands.map((b) => el("tr", { "data-band": String(b.band), "data-decision": b.decision },
    el("td", { text: b.name }),
    el("td", { text: percent(b.occupancy) }),
    el("td", { text: `${money(b.current, currency)} / ${b.unit_minutes}′` }),
    el("td", { text: money(b.proposed, currency) }),
    el("td", { text: percent(b.expected_occupancy) }),
    el("td", { text: decisions[b.decision] ?? b.decision })));
  parts.push(el("table", { class: "sessions" },
    el("thead", {}, el("tr", {},
      ...[t("band"), t("bandOccupied"), t("bandNow"), t("bandNext"), t("bandExpected"), ""].map((h) => el("th", { text: h })))),
    el("tbody", {}, ...rows)));
  return parts;
}

// Each subscription's health, as the operator API gives it.
// A webhook action (switch on, replay), then the page again; a refusal
// shows as the page's problem.
async function webhookAction(lotId, id, action) {
  try {
    await api(`/v1/operator/lots/${encodeURIComponent(lotId)}/webhooks/${encodeURIComponent(id)}/${action}`,
      { method: "POST" });
    await refresh();
  } catch (e) {
    showProblem(e.problem?.detail || e.message);
  }
}

function webhookButtons(lotId, h) {
  const cell = el("td", {});
  const button = (action, label) => {
    const b = el("button", { type: "button", [`data-webhook-${action}`]: h.id, text: label });
    b.addEventListener("click", () => webhookAction(lotId, h.id, action));
    cell.append(b);
  };
  if (!h.enabled) button("enable", t("webhookEnable"));
  else if (h.missed.length) button("replay", t("webhookReplay"));
  return cell;
}

function webhooksSection(w, zone, lotId) {
  const parts = [el("h3", { text: t("webhooks") })];
  if (!w) return parts;
  if (w.problem) {
    parts.push(el("p", { role: "alert", text: t("failed").replace("{why}", w.problem) }));
    return parts;
  }
  if (!w.items.length) {
    parts.push(el("p", { class: "empty", "data-webhooks": "none", text: t("none") }));
    return parts;
  }
  const when = (at) => (at ? localTime(at, zone) : "—");
  const rows = w.items.map((h) => el("tr", { "data-webhook": h.id, "data-enabled": String(h.enabled),
    "data-failures": String(h.failures), "data-missed": String(h.missed.length) },
    el("td", { text: h.url }),
    el("td", { text: h.events.join(" ") }),
    el("td", { class: h.enabled ? "" : "bad", text: h.enabled ? t("webhookOn") : t("webhookOff") }),
    el("td", { text: count(h.failures) }),
    el("td", { text: when(h.last_success_at) }),
    el("td", { text: h.last_failure ? `${when(h.last_failure_at)} ${h.last_failure}` : "—" }),
    el("td", { text: count(h.missed.length) }),
    webhookButtons(lotId, h)));
  parts.push(el("table", { class: "sessions" },
    el("thead", {}, el("tr", {},
      ...[t("webhookUrl"), t("webhookEvents"), t("webhookState"), t("webhookFailures"),
        t("webhookLastSuccess"), t("webhookLastFailure"), t("webhookMissed"), ""].map((h) => el("th", { text: h })))),
    el("tbody", {}, ...rows)));
  return parts;
}

// The unpaid register of the operator that runs the lot: its first
// page, as the operator API gives it.
function unpaidSection(u, zone) {
  const parts = [el("h3", { text: t("unpaid") })];
  if (!u) return parts;
  if (u.problem) {
    parts.push(el("p", { role: "alert", text: t("failed").replace("{why}", u.problem) }));
    return parts;
  }
  if (!u.items.length) {
    parts.push(el("p", { class: "empty", "data-unpaid": "none", text: t("none") }));
    return parts;
  }
  const reasons = t("unpaidReasons");
  const rows = u.items.map((d) => el("tr", { "data-debt": d.session_id, "data-lot-of": d.lot_id,
    "data-amount": String(d.amount.amount) },
    el("td", { text: d.lot_id }),
    el("td", { text: d.plate }),
    el("td", { text: reasons[d.reason] ?? d.reason }),
    el("td", { text: money(d.amount.amount, d.amount.currency) }),
    el("td", { text: localTime(d.exit_at, zone) })));
  parts.push(el("table", { class: "sessions" },
    el("thead", {}, el("tr", {},
      ...[t("unpaidLot"), t("unpaidPlate"), t("unpaidReason"), t("unpaidAmount"), t("unpaidExit")]
        .map((h) => el("th", { text: h })))),
    el("tbody", {}, ...rows)));
  return parts;
}

function showProblem(text) {
  const p = $("problem");
  p.textContent = text;
  p.hidden = !text;
}

function signedIn(yes) {
  $("sign-in").hidden = yes;
  $("sign-out").hidden = !yes;
  // With a sign-in service there is no token to paste.
  $("token").hidden = $("token-label").hidden = Boolean(signInService);
  $("token").required = !signInService;
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText(bytes) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** This page's address without query or fragment: the redirect URI. */
function here() {
  return location.origin + location.pathname;
}

/** Reads `sign-in.json` beside the page; none means tokens are pasted. */
async function loadSignInService() {
  try {
    const r = await fetch("sign-in.json", { headers: { Accept: "application/json" }, cache: "no-store" });
    const c = r.ok ? await r.json() : null;
    signInService = c && c.authorize_url && c.token_url && c.client_id ? c : null;
  } catch {
    signInService = null;
  }
}

/** Goes to the hosted sign-in with a new verifier's S256 challenge. */
async function startSignIn() {
  const verifier = randomText(32);
  const state = randomText(16);
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state }));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: signInService.client_id,
    redirect_uri: here(),
    scope: "openid email profile",
    state,
    code_challenge: base64url(new Uint8Array(digest)),
    code_challenge_method: "S256",
  });
  location.assign(`${signInService.authorize_url}?${query}`);
}

/**
 * Back from the hosted sign-in with `?code=…&state=…`: the code leaves the
 * address at once, the state must be the one sent, and the code and its
 * verifier are exchanged for the tokens; the ID token (it carries the
 * groups and scopes) is what the API takes.
 */
async function finishSignIn() {
  const query = new URLSearchParams(location.search);
  const code = query.get("code");
  if (!code && !query.get("error")) return;
  history.replaceState(null, "", location.pathname + location.hash);
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null");
  sessionStorage.removeItem(PENDING_KEY);
  if (!code || !signInService || !pending || query.get("state") !== pending.state) {
    showProblem(t("signInFailed"));
    return false;
  }
  try {
    const r = await fetch(signInService.token_url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: signInService.client_id,
        code,
        redirect_uri: here(),
        code_verifier: pending.verifier,
      }),
    });
    const tokens = r.ok ? await r.json() : null;
    if (!tokens || !tokens.id_token) throw new Error(`HTTP ${r.status}`);
    sessionStorage.setItem(TOKEN_KEY, tokens.id_token);
    return true;
  } catch {
    showProblem(t("signInFailed"));
    return false;
  }
}

async function refresh() {
  if (!sessionStorage.getItem(TOKEN_KEY)) {
    signedIn(false);
    if (!$("problem").dataset.sticky) showProblem(t(signInService ? "signInHosted" : "signInFirst"));
    return;
  }
  signedIn(true);
  try {
    const lots = await operatorLots();
    // One lot that cannot be read shows its problem; the others show.
    const boards = await Promise.allSettled(
      lots.map((l) => api(`/v1/operator/lots/${encodeURIComponent(l.id)}/dashboard`)));
    const priced = await Promise.allSettled(lots.map((l) => suggestion(l.id)));
    const hooks = await Promise.allSettled(
      lots.map((l) => api(`/v1/operator/lots/${encodeURIComponent(l.id)}/webhooks`)));
    const unpaid = await Promise.allSettled(
      lots.map((l) => api(`/v1/operator/lots/${encodeURIComponent(l.id)}/unpaid`)));
    const settled = (r) => (r.status === "fulfilled" ? r.value
      : { problem: r.reason?.message || String(r.reason) });
    const cards = boards.map((b, i) => b.status === "fulfilled"
      ? lotCard(b.value, settled(priced[i]), settled(hooks[i]), settled(unpaid[i]))
      : el("section", { class: "lot", "data-lot": lots[i].id },
        el("h2", { text: `${lots[i].name} (${lots[i].id})` }),
        el("p", { role: "alert", text: t("failed").replace("{why}", b.reason?.message || String(b.reason)) })));
    const main = $("lots");
    main.replaceChildren(...(cards.length ? cards : [el("p", { class: "empty", text: t("noLots") })]));
    main.dataset.loaded = String(Date.now());
    showProblem("");
    $("updated").textContent = `${t("updated")} ${new Date().toLocaleTimeString(lang === "ja" ? "ja-JP" : "en-GB")}`;
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
      sessionStorage.removeItem(TOKEN_KEY);
      signedIn(false);
      showProblem(t("refused").replace("{status}", e.status));
    } else {
      showProblem(t("failed").replace("{why}", e.message));
    }
  }
}

function openResolve(lotId, session) {
  resolving = { lotId, session };
  $("resolve-what").textContent = `${session.plate} · ${TEXT[lang].states[session.state] || session.state}`;
  $("resolve-note").value = "";
  $("resolve-problem").hidden = true;
  $("resolve").showModal();
}

async function sendResolve(event) {
  if (event.submitter?.value !== "send" || !resolving) return;
  event.preventDefault();
  const { lotId, session } = resolving;
  try {
    await api(`/v1/operator/lots/${encodeURIComponent(lotId)}/sessions/${encodeURIComponent(session.id)}/resolution`, {
      method: "POST",
      body: JSON.stringify({ action: $("resolve-action").value, note: $("resolve-note").value }),
    });
    $("resolve").close();
    resolving = null;
    await refresh();
  } catch (e) {
    const p = $("resolve-problem");
    p.textContent = e.problem?.detail || e.message;
    p.hidden = false;
  }
}

function applyLanguage() {
  document.documentElement.lang = lang;
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  $("lang-ja").setAttribute("aria-pressed", String(lang === "ja"));
  $("lang-en").setAttribute("aria-pressed", String(lang === "en"));
}

function setLanguage(next) {
  lang = next;
  localStorage.setItem(LANG_KEY, next);
  applyLanguage();
  refresh();
}

async function start() {
  applyLanguage();
  $("lang-ja").addEventListener("click", () => setLanguage("ja"));
  $("lang-en").addEventListener("click", () => setLanguage("en"));
  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    if (signInService) {
      startSignIn();
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    refresh();
  });
  $("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    suggestions.clear();
    $("lots").replaceChildren();
    if (signInService && signInService.logout_url) {
      const query = new URLSearchParams({ client_id: signInService.client_id, logout_uri: here() });
      location.assign(`${signInService.logout_url}?${query}`);
      return;
    }
    refresh();
  });
  $("resolve-form").addEventListener("submit", sendResolve);
  await loadSignInService();
  // A token in the address's fragment (#token=…) is removed from the
  // address at once; it signs in only where there is no sign-in service
  // (a local server), so a link cannot sign staff in as someone else.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {
    if (!signInService) sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  if (fragment.get("lang") === "ja" || fragment.get("lang") === "en") lang = fragment.get("lang");
  applyLanguage();
  if ((await finishSignIn()) === false) $("problem").dataset.sticky = "1";
  refresh();
  setInterval(refresh, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", start);
