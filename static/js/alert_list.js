// The alert list: asks before an inline delete, and keeps each price alert's
// distance to its target in step with the live price (live.js updates the
// price cells itself and announces each batch as cm:prices / cm:snapshot).
//
// Without this script the delete button opens the confirmation page, and the
// distances stay as the server computed them when the page loaded.
(function () {
  "use strict";

  // Delete: one confirm() here, so the server need not ask again.
  function askBeforeDeleting(event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-confirm]")) return;
    if (!window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    var ask = form.querySelector('input[name="ask_first"]');
    if (ask) ask.disabled = true;
  }

  function signed(amount, text) {
    return (amount < 0 ? "-" : "+") + text;
  }

  // Mirrors alerts/progress.py's Distance: target minus price, and that as a
  // percentage of the price, both in the alert's currency: the live price
  // (in the base) times the row's data-factor, that currency's rate.
  function showDistance(row, basePrice) {
    var live = window.CryptoMonitorLive;
    var target = Number(row.dataset.target);
    var factor = Number(row.dataset.factor || "1");
    var code = row.dataset.currency || undefined;
    var cell = row.querySelector(".alert-distance");
    var price = basePrice * factor;
    if (!live || !cell || !isFinite(target) || !(factor > 0) || !(price > 0)) return;
    var amount = target - price;
    cell.textContent = "";
    var percent = document.createElement("span");
    percent.className = "distance-percent";
    percent.textContent = live.formatChange((amount / price) * 100);
    var absolute = document.createElement("small");
    absolute.className = "distance-amount";
    absolute.textContent = "(" + signed(amount, live.formatPrice(Math.abs(amount), code)) + ")";
    cell.appendChild(percent);
    cell.appendChild(document.createTextNode(" "));
    cell.appendChild(absolute);
  }

  function onPrices(event) {
    var coins = (event.detail && event.detail.coins) || [];
    coins.forEach(function (coin) {
      var price = Number(coin.price);
      if (coin.price === null || coin.price === undefined || !isFinite(price)) return;
      var rows = document.querySelectorAll(
        'tr[data-target][data-alert-coin="' + CSS.escape(coin.id) + '"]'
      );
      rows.forEach(function (row) {
        showDistance(row, price);
      });
    });
  }

  document.addEventListener("submit", askBeforeDeleting);
  document.addEventListener("cm:prices", onPrices);
  document.addEventListener("cm:snapshot", onPrices);
})();
