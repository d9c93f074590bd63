// Live prices and alert popups over /ws/prices/ (schema: docs/websocket.md).
//
// The server renders every price; this only updates the elements marked
// [data-coin][data-field]. While the socket is down those values are marked
// stale, and after a reconnect the server's fresh snapshot replaces them all,
// so an old price is never shown as current.
//
// The socket sends prices in the base currency (the snapshot's `currency`);
// an element with data-currency shows them in that currency, converted with
// the page's rate (the #display-currency JSON, prices.currencies.Display:
// the reader's display currency, or the base when its rate is stale).
(function () {
  "use strict";

  var BACKOFF_BASE_MS = 1000;
  var BACKOFF_CAP_MS = 30000;
  var PING_EVERY_MS = 25000;
  var PONG_TIMEOUT_MS = 10000;
  var POPUP_MS = 15000;
  var MAX_FRAME_BYTES = 4096; // the server closes the socket on bigger frames
  var CURRENCY_SYMBOLS = {
    usd: "$", eur: "€", gbp: "£", jpy: "¥", cny: "¥", inr: "₹", btc: "₿", eth: "Ξ",
  };
  // As prices/currencies.py: 8 significant digits, whole yen from 100 up.
  var SIGNIFICANT_CURRENCIES = { btc: true, eth: true };
  var WHOLE_CURRENCIES = { jpy: true };
  var COMPACT_UNITS = [[1e12, "T"], [1e9, "B"], [1e6, "M"]];
  var MISSING = "—";
  var STATE_TEXT = {
    live: "live",
    stale: "prices stale",
    unreachable: "feed unreachable",
    reconnecting: "reconnecting…",
    offline: "offline",
  };
  var STATE_TITLE = {
    live: "Prices update live",
    stale: "Connected, but the price feed has not had a good poll lately",
    unreachable: "Connected, but the price source cannot be reached: prices shown are old",
  };

  var socket = null;
  var attempt = 0;
  var reconnectTimer = null;
  var pingTimer = null;
  var pongTimer = null;
  var currency = "usd"; // the base: what the socket's prices are in
  var display = readDisplay(); // the page's rate: {currency, base, factor}
  var socketState = "offline";
  var feedState = "live"; // live | stale | unreachable, from the server's `feed`

  // --- Formatting (mirrors prices/templatetags/price_format.py) -------------

  var grouped2 = new Intl.NumberFormat("en-US", {
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  });
  var grouped0 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  var significant = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 8 });

  function withCurrency(number, code) {
    code = code || currency;
    var symbol = CURRENCY_SYMBOLS[code];
    return symbol ? symbol + number : number + " " + code.toUpperCase();
  }

  // The server's rate for this page (base.html's json_script), or none.
  function readDisplay() {
    var script = document.getElementById("display-currency");
    try {
      var data = script ? JSON.parse(script.textContent) : null;
      if (data && data.currency && isFinite(Number(data.factor))) return data;
    } catch (error) {
      // A page without a usable rate shows the base.
    }
    return null;
  }

  // A base amount in `code`: converted when `code` is the page's currency
  // and its rate is from the base the socket speaks; null when it cannot be.
  function convert(value, code) {
    var amount = toNumber(value);
    if (amount === null || !code || code === currency) return amount;
    if (display && code === display.currency && display.base === currency) {
      return amount * Number(display.factor);
    }
    return null;
  }

  function toNumber(value) {
    if (value === null || value === undefined || value === "") return null;
    var number = Number(value);
    return isFinite(number) ? number : null;
  }

  // An amount already in `code` (default: the base), as format_price prints it.
  function formatPrice(value, code) {
    code = code || currency;
    var amount = toNumber(value);
    if (amount === null) return MISSING;
    if (SIGNIFICANT_CURRENCIES[code]) {
      // Below 1e-8 (a satoshi) the filter's "{:.4e}".
      if (amount !== 0 && Math.abs(amount) < 1e-8) return withCurrency(amount.toExponential(4), code);
      return withCurrency(significant.format(amount), code);
    }
    if (Math.abs(amount) >= 1) {
      var whole = WHOLE_CURRENCIES[code] && Math.abs(amount) >= 100;
      return withCurrency((whole ? grouped0 : grouped2).format(amount), code);
    }
    if (amount === 0) return withCurrency("0.00", code);
    // Sub-dollar coins: four significant digits without trailing zeros (the
    // filter's "{:.4g}"), and below 0.0001 the filter's "{:.4e}".
    if (Math.abs(amount) < 1e-4) return withCurrency(amount.toExponential(4), code);
    return withCurrency(amount.toPrecision(4).replace(/\.?0+$/, ""), code);
  }

  function formatCompact(value, code) {
    code = code || currency;
    var amount = toNumber(value);
    if (amount === null) return MISSING;
    for (var i = 0; i < COMPACT_UNITS.length; i++) {
      if (Math.abs(amount) >= COMPACT_UNITS[i][0]) {
        var scaled = grouped2.format(amount / COMPACT_UNITS[i][0]);
        return withCurrency(scaled + COMPACT_UNITS[i][1], code);
      }
    }
    if (SIGNIFICANT_CURRENCIES[code]) return formatPrice(amount, code);
    return withCurrency(grouped0.format(amount), code);
  }

  // A base amount shown in an element's data-currency (the base if none
  // or if the page has no rate for it).
  function formatIn(value, code, format) {
    var converted = convert(value, code);
    if (converted === null) return format(value, currency);
    return format(converted, code);
  }

  function formatChange(value) {
    var change = toNumber(value);
    if (change === null) return MISSING;
    return (change < 0 ? "" : "+") + change.toFixed(2) + "%";
  }

  // How long ago, as the server's time_ago filter says it ("" if unknown).
  function formatSince(iso) {
    var seconds = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
    if (!iso || isNaN(seconds)) return "";
    if (seconds < 60) return seconds + "s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + "m ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + "h ago";
    return Math.floor(seconds / 86400) + "d ago";
  }

  function formatAgo(iso) {
    var since = formatSince(iso);
    return since ? "updated " + since : "no price yet";
  }

  // --- DOM updates -------------------------------------------------------------

  function fieldsOf(coinId) {
    return document.querySelectorAll(
      '[data-coin="' + CSS.escape(coinId) + '"][data-field]'
    );
  }

  function render(element, coin) {
    var field = element.dataset.field;
    var code = element.dataset.currency;
    if (field === "price") {
      element.textContent = formatIn(coin.price, code, formatPrice);
    } else if (field === "change_24h_pct") {
      element.textContent = formatChange(coin.change_24h_pct);
      var change = toNumber(coin.change_24h_pct);
      element.classList.toggle("up", change !== null && change >= 0);
      element.classList.toggle("down", change !== null && change < 0);
    } else if (field === "market_cap" || field === "volume_24h") {
      element.textContent = formatIn(coin[field], code, formatCompact);
    } else if (field === "updated_at") {
      element.dataset.updatedAt = coin.updated_at || "";
      element.textContent = formatAgo(coin.updated_at);
    } else {
      return;
    }
    element.classList.remove("stale");
    element.removeAttribute("title");
  }

  function applyCoins(coins) {
    coins.forEach(function (coin) {
      fieldsOf(coin.id).forEach(function (element) {
        render(element, coin);
      });
    });
  }

  function markAllStale() {
    document.querySelectorAll("[data-coin][data-field]").forEach(function (element) {
      element.classList.add("stale");
      element.title = "Not live: this value may be out of date";
    });
  }

  function refreshAges() {
    document.querySelectorAll('[data-field="updated_at"][data-updated-at]').forEach(function (el) {
      el.textContent = formatAgo(el.dataset.updatedAt);
    });
    document.querySelectorAll("time[data-ago]").forEach(function (el) {
      el.textContent = formatSince(el.getAttribute("datetime")) || el.textContent;
    });
  }

  function setBanner(id, visible, html, className, role) {
    var banner = document.getElementById(id);
    if (!banner && visible) {
      var main = document.getElementById("main");
      if (!main) return;
      banner = document.createElement("p");
      banner.id = id;
      banner.className = "banner " + className;
      banner.setAttribute("role", role);
      banner.innerHTML = html;
      main.insertBefore(banner, main.firstChild);
    }
    if (banner) banner.hidden = !visible;
  }

  function escapeHtml(text) {
    var box = document.createElement("span");
    box.textContent = text;
    return box.innerHTML;
  }

  function agoHtml(iso) {
    var time = document.createElement("time");
    time.setAttribute("datetime", iso);
    time.setAttribute("data-ago", "");
    time.title = new Date(iso).toString();
    time.textContent = formatSince(iso);
    return time.outerHTML;
  }

  // The stale banner's text, as prices/_feed_banner.html renders it. An older
  // server's `feed` has no details: then only the heading.
  function feedHtml(feed) {
    var source = escapeHtml(feed.source || "The price feed");
    var problem = feed.problem ? escapeHtml(feed.problem) : "";
    var html;
    if (feed.failures > 0) {
      html = "<strong>" + source + " unreachable</strong>" +
        (feed.last_success_at ? " since the last good poll" : "") +
        (problem ? ": " + problem : "") + ".";
    } else if ("last_attempt_at" in feed && !feed.last_attempt_at) {
      html = "<strong>No prices yet.</strong> No price poll has run yet.";
    } else {
      html = "<strong>Prices may be out of date.</strong>" +
        (problem ? " " + source + ": " + problem + "." : "");
    }
    if (feed.last_success_at) html += " Last good poll " + agoHtml(feed.last_success_at) + ".";
    else if (feed.last_attempt_at) html += " No poll has succeeded yet.";
    if (feed.prices_from) html += " Prices shown are from " + agoHtml(feed.prices_from) + ".";
    return html;
  }

  function showFeed(feed) {
    var html = feedHtml(feed);
    setBanner("feed-stale-banner", feed.stale, html, "banner-stale", "alert");
    var banner = document.getElementById("feed-stale-banner");
    if (banner && feed.stale && "source" in feed) {
      // Keep the staff-only error line the server rendered; it says more.
      var error = banner.querySelector(".feed-error");
      banner.innerHTML = html;
      if (error) {
        banner.appendChild(document.createElement("br"));
        banner.appendChild(error);
      }
    }
    feedState = !feed.stale ? "live" : feed.failures > 0 ? "unreachable" : "stale";
    showState();
    if (feed.simulated === undefined) return;
    setBanner(
      "feed-simulated-banner",
      feed.simulated,
      "<strong>Simulated prices.</strong> These prices are generated for testing, not real market data.",
      "banner-simulated",
      "note"
    );
  }

  // The header pill: the socket first (no socket, no news), then the feed.
  function setState(state) {
    socketState = state;
    document.body.dataset.connection = state;
    showState();
  }

  // data-state is the socket's, data-feed the feed's (live, stale, unreachable).
  function showState() {
    var status = document.getElementById("connection-status");
    if (!status) return;
    var shown = socketState === "live" ? feedState : socketState;
    status.dataset.state = socketState;
    status.dataset.feed = feedState;
    status.textContent = STATE_TEXT[shown];
    status.title = STATE_TITLE[shown] || "Not connected: prices shown may be out of date";
  }

  // The popup names the coin, the condition and the price, links to the
  // alert, and counts in the Notifications badge (each popup is an inbox entry).
  function showAlert(alert) {
    var box = document.getElementById("alert-popups");
    if (!box) return;
    var popup = document.createElement("div");
    popup.className = "alert-popup";
    popup.setAttribute("role", "status");
    var title = document.createElement("p");
    title.className = "alert-popup-title";
    var name = document.createElement("strong");
    name.textContent = alert.coin || alert.symbol || "Alert";
    title.appendChild(name);
    if (alert.symbol && alert.coin) title.appendChild(document.createTextNode(" (" + alert.symbol + ")"));
    popup.appendChild(title);
    if (alert.condition) {
      var condition = document.createElement("p");
      condition.className = "alert-popup-condition";
      condition.textContent =
        alert.condition.charAt(0).toUpperCase() + alert.condition.slice(1) +
        (alert.price ? ": now " + formatPrice(alert.price, alert.currency) : "");
      popup.appendChild(condition);
    }
    var text = document.createElement("p");
    text.className = "alert-popup-message";
    text.textContent = alert.message || (alert.symbol || alert.coin || "") + " alert triggered";
    popup.appendChild(text);
    if (alert.url) {
      var link = document.createElement("a");
      link.href = alert.url;
      link.textContent = alert.id ? "View alert" : "Open";
      popup.appendChild(link);
    }
    var dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "alert-popup-dismiss secondary outline small";
    dismiss.setAttribute("aria-label", "Dismiss alert");
    dismiss.textContent = "Dismiss";
    popup.appendChild(dismiss);
    var timer = window.setTimeout(remove, POPUP_MS);
    function remove() {
      window.clearTimeout(timer);
      if (popup.parentNode) popup.parentNode.removeChild(popup);
    }
    dismiss.addEventListener("click", remove);
    box.appendChild(popup);
    countUnread();
    chime();
  }

  function countUnread() {
    var badge = document.getElementById("unread-notifications");
    if (!badge) return;
    var unread = (parseInt(badge.textContent, 10) || 0) + 1;
    badge.textContent = String(unread);
    badge.setAttribute("aria-label", unread + " unread");
    badge.classList.remove("badge-empty");
  }

  // Only for users who turned the sound on (data-popup-sound: the file's URL).
  function chime() {
    var url = document.body.dataset.popupSound;
    if (!url) return;
    var sound = new Audio(url);
    var playing = sound.play();
    // A page nobody has clicked yet may not play sound: the popup still shows.
    if (playing && playing.catch) playing.catch(function () {});
  }

  // A `prices` batch (version 2) is a table: `fields` names the columns of
  // each row in `coins`, and updated_at is in epoch milliseconds. Turn it
  // back into coin objects shaped as the snapshot's, so the DOM updates and
  // the cm:prices listeners read one shape.
  function expandBatch(message) {
    var fields = message.fields;
    if (!fields) return message; // version 1: the coins are objects already
    var coins = message.coins.map(function (row) {
      var coin = {};
      for (var i = 0; i < fields.length; i++) coin[fields[i]] = row[i];
      if (typeof coin.updated_at === "number") {
        coin.updated_at = new Date(coin.updated_at).toISOString();
      }
      return coin;
    });
    return { type: "prices", polled_at: message.polled_at, feed: message.feed, coins: coins };
  }

  function announce(name, message) {
    document.dispatchEvent(new CustomEvent(name, { detail: message }));
  }

  // --- The socket ----------------------------------------------------------------

  function socketUrl() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + "/ws/prices/";
  }

  function subscription() {
    var wanted = (document.body.dataset.subscribe || "")
      .split(/[\s,]+/)
      .filter(function (id) {
        return id;
      });
    if (!wanted.length) return null;
    var text = JSON.stringify({ type: "subscribe", coins: wanted });
    // Too many ids for one frame: take every price and let the DOM pick.
    return new Blob([text]).size <= MAX_FRAME_BYTES ? text : null;
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function onMessage(event) {
    var message;
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (message.type === "snapshot") {
      if (message.currency) currency = message.currency;
      // The snapshot is the truth after every (re)connect.
      applyCoins(message.coins);
      attempt = 0;
      setState("live");
      if (message.feed) showFeed(message.feed);
      announce("cm:snapshot", message);
    } else if (message.type === "prices") {
      var batch = expandBatch(message);
      applyCoins(batch.coins);
      // A batch is not proof of a good poll (a poll may read only some of
      // the coins): the server says with each batch what it knows, as in the
      // snapshot and /healthz. No `feed`: the banners stay as they are.
      if (batch.feed) showFeed(batch.feed);
      announce("cm:prices", batch);
    } else if (message.type === "feed") {
      // A poll failed: no prices came, only what the server knows of the feed.
      showFeed(message.feed);
    } else if (message.type === "alert") {
      showAlert(message);
      announce("cm:alert", message);
    } else if (message.type === "pong") {
      window.clearTimeout(pongTimer);
    } else if (message.type === "error" && window.console) {
      window.console.warn("live prices:", message.message);
    }
  }

  function startPinging() {
    stopPinging();
    pingTimer = window.setInterval(function () {
      send({ type: "ping" });
      window.clearTimeout(pongTimer);
      // No pong: the connection is dead even if the browser has not noticed.
      pongTimer = window.setTimeout(dropSocket, PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  function stopPinging() {
    window.clearInterval(pingTimer);
    window.clearTimeout(pongTimer);
  }

  // Stop trusting the socket at once: a dead connection's close handshake can
  // take a minute, and until then its prices would still look live.
  function dropSocket() {
    var dead = socket;
    if (!dead) return;
    socket = null;
    dead.onopen = dead.onmessage = dead.onclose = null;
    dead.close();
    stopPinging();
    markAllStale();
    scheduleReconnect();
  }

  function connect() {
    window.clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (navigator.onLine === false) {
      markAllStale();
      setState("offline");
      return;
    }
    var current = new WebSocket(socketUrl());
    socket = current;
    current.onopen = function () {
      var subscribe = subscription();
      if (subscribe) current.send(subscribe);
      startPinging();
    };
    current.onmessage = onMessage;
    current.onclose = dropSocket;
  }

  function scheduleReconnect() {
    if (reconnectTimer !== null) return;
    if (navigator.onLine === false) {
      setState("offline");
      return;
    }
    setState("reconnecting");
    // Full jitter: a restarted server is not hit by every tab at once.
    var ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * Math.pow(2, attempt));
    attempt += 1;
    reconnectTimer = window.setTimeout(connect, Math.random() * ceiling);
  }

  function start() {
    if (!("WebSocket" in window)) {
      setState("offline");
      return;
    }
    window.addEventListener("offline", function () {
      dropSocket();
      markAllStale();
      setState("offline");
    });
    window.addEventListener("online", function () {
      attempt = 0;
      if (!socket) connect();
    });
    window.setInterval(refreshAges, 1000);
    connect();
  }

  window.CryptoMonitorLive = {
    formatPrice: formatPrice,
    formatCompact: formatCompact,
    // A base amount in the page's display currency (null: no rate for it).
    toDisplay: function (value) {
      return display ? convert(value, display.currency) : toNumber(value);
    },
    display: function () {
      return display ? display.currency : currency;
    },
    formatChange: formatChange,
    formatAgo: formatAgo,
    formatSince: formatSince,
    reconnectNow: dropSocket,
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
